//! An archive's stream: its compression, told by its first bytes, and what a read error of it
//! means for the learner (never the parsers' own messages, which quote the bytes they read).

use std::io::{self, BufRead, Read};

use crate::error::{Error, Result};

/// The compression of an archive, told by its "magic" first bytes, never by its file name.
pub(crate) enum Compression {
    Gzip,
    Zstd,
    None,
    Unsupported(&'static str),
}

impl Compression {
    pub(crate) fn detect(head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Compression::Unsupported("xz"),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [b'B', b'Z', b'h', ..] => Compression::Unsupported("bzip2"),
            _ => Compression::None,
        }
    }
}

/// The archive's tar stream: `input` itself, or `input` decompressed (gzip, zstd), told by
/// its first bytes.
pub(crate) fn decompressed<'a, R: BufRead + 'a>(mut input: R, what: &str) -> Result<Box<dyn Read + 'a>> {
    let magic = input.fill_buf().map_err(|e| read_error(what, e))?.to_vec();
    match Compression::detect(&magic) {
        // The decoder reads from a BufRead, so no second buffer is needed.
        Compression::Gzip => Ok(Box::new(flate2::bufread::MultiGzDecoder::new(input))),
        Compression::Zstd => match ruzstd::decoding::StreamingDecoder::new(input) {
            Ok(decoder) => Ok(Box::new(decoder)),
            Err(_) => Err(Error::BadArchive { what: what.to_string() }),
        },
        Compression::None => Ok(Box::new(input)),
        Compression::Unsupported(kind) => {
            Err(Error::UnsupportedCompression { what: what.to_string(), kind: kind.to_string() })
        }
    }
}

/// Map a read error of the archive stream to our error: an early end is `Truncated`. The
/// parsers' messages are never kept: the tar crate's quote the header bytes it read.
pub(crate) fn read_error(what: &str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::Truncated { what: what.to_string() },
        // A corrupt gzip stream (flate2) or a bad tar header (tar crate).
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::Other => {
            Error::BadArchive { what: what.to_string() }
        }
        _ => Error::io("read", what, e),
    }
}

/// A header that cannot be read. Before any entry was read, the file is no tar archive at
/// all, unless its gzip layer is what failed (then the .tar.gz is damaged).
pub(crate) fn header_error(what: &str, e: io::Error, entries_read: u64) -> Error {
    let gzip_failed = e.kind() == io::ErrorKind::InvalidInput
        || e.get_ref().is_some_and(|inner| inner.is::<flate2::DecompressError>());
    match e.kind() {
        io::ErrorKind::Other | io::ErrorKind::InvalidData if entries_read == 0 && !gzip_failed => {
            Error::NotAnArchive { what: what.to_string() }
        }
        _ => read_error(what, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_told_by_magic_bytes() {
        assert!(matches!(Compression::detect(&[0x1f, 0x8b, 8]), Compression::Gzip));
        assert!(matches!(Compression::detect(b"bin/sh\0"), Compression::None));
        assert!(matches!(Compression::detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]), Compression::Unsupported("xz")));
    }
}
