//! An image reference: `[HOST[:PORT]/]NAME[:TAG][@sha256:HEX]`, read the way Docker reads it.
//!
//! The first part is a registry only if it looks like a host name (it has a `.` or a `:`, or
//! is `localhost`); otherwise the reference is on Docker Hub, and a one-part name is an
//! official image under `library/` (`alpine` is `docker.io/library/alpine:latest`).

use std::fmt;
use std::net::IpAddr;

use crate::i18n::tf;

/// Docker Hub's name in references, and the host that serves its API.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `127.0.0.1:5000`, `docker.io`.
    pub registry: String,
    /// `library/alpine`, `demo`.
    pub repository: String,
    /// `latest` when neither a tag nor a digest is given.
    pub tag: Option<String>,
    /// `sha256:…`, when the reference pins one manifest.
    pub digest: Option<String>,
}

/// Why a text is not a reference: one sentence, in the learner's language.
pub type Why = String;

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, Why> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(parse_digest(digest)?)),
            None => (text, None),
        };
        // A tag is after the last `:` that comes after the last `/` (a port is before it).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(rest[last_slash + i + 1..].to_string())),
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        check_registry(&registry)?;
        check_repository(&repository)?;
        if let Some(tag) = &tag {
            check_tag(tag)?;
        }
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_string()) } else { tag };
        Ok(Reference { registry, repository, tag, digest })
    }

    /// What to ask the registry for: the digest when there is one, else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// The host the registry API is on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// True when the registry is this machine (`localhost`, `127.x.x.x`, `[::1]`): the only
    /// place learnctr speaks plain HTTP to, as Docker does. Elsewhere it is HTTPS.
    pub fn is_loopback(&self) -> bool {
        let host = match self.registry.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => &self.registry,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `http://127.0.0.1:5000` or `https://registry-1.docker.io`.
    pub fn base_url(&self) -> String {
        let scheme = if self.is_loopback() { "http" } else { "https" };
        format!("{scheme}://{}", self.api_host())
    }
}

impl fmt::Display for Reference {
    /// The full name: `docker.io/library/alpine:latest`, `127.0.0.1:5000/demo@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `sha256:` and 64 lower-case hex digits (the only algorithm learnctr accepts).
pub fn parse_digest(text: &str) -> Result<String, Why> {
    match text.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => {
            Ok(text.to_string())
        }
        _ => Err(tf("image.ref.bad_digest", &[("digest", &text)])),
    }
}

/// A host name or `[IPv6]`, then an optional `:PORT` of digits.
fn check_registry(registry: &str) -> Result<(), Why> {
    let (host, port) = match registry.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !registry.ends_with(']') => (h, Some(p)),
        _ => (registry, None),
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(tf("image.ref.bad_registry", &[("registry", &registry)]))
    }
}

/// Lower-case parts of letters and digits, joined by `.`, `_`, `__`, `-` (the spec's grammar,
/// simplified: each part starts and ends with a letter or digit).
fn check_repository(repository: &str) -> Result<(), Why> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
            && p.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && p.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
    };
    if repository.len() <= 255 && repository.split('/').all(part_ok) {
        Ok(())
    } else {
        Err(tf("image.ref.bad_name", &[("name", &repository)]))
    }
}

fn check_tag(tag: &str) -> Result<(), Why> {
    let ok = (1..=128).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !tag.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(tf("image.ref.bad_tag", &[("tag", &tag)]))
    }
}

#[cfg(test)]
mod tests {
    use super::Reference;

    fn full(text: &str) -> String {
        Reference::parse(text).unwrap().to_string()
    }

    #[test]
    fn references_are_read_as_docker_reads_them() {
        assert_eq!(full("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(full("user/app:1.2"), "docker.io/user/app:1.2");
        assert_eq!(full("127.0.0.1:5000/demo"), "127.0.0.1:5000/demo:latest");
        assert_eq!(full("localhost/a/b:x"), "localhost/a/b:x");
        let pinned = format!("127.0.0.1:5000/demo@sha256:{}", "a".repeat(64));
        assert_eq!(full(&pinned), pinned);
        assert!(Reference::parse("Upper/case").is_err());
        assert!(Reference::parse("demo:bad/tag").is_err());
        assert!(Reference::parse("demo@sha256:1234").is_err());
        assert!(Reference::parse("").is_err());
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        let loopback = |t: &str| Reference::parse(t).unwrap().is_loopback();
        assert!(loopback("127.0.0.1:5000/x") && loopback("localhost:5000/x") && loopback("[::1]:5000/x"));
        assert!(!loopback("10.0.0.1:5000/x") && !loopback("alpine") && !loopback("localhost.example.com/x"));
        assert_eq!(Reference::parse("alpine").unwrap().base_url(), "https://registry-1.docker.io");
        assert_eq!(Reference::parse("127.0.0.1:5000/x").unwrap().base_url(), "http://127.0.0.1:5000");
    }
}
