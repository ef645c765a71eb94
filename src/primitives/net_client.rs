//! The two clients lesson 7 uses from the host, so that no `ping` or `curl` is needed
//! there: an ICMP echo (what `ping` sends) and a plain HTTP/1.0 GET. Both only ever
//! talk to addresses inside namespaces learnctr made, with short timeouts.

use super::error::Result;
use super::kernel::Kernel;
use super::untraced;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// Round-trip times of the echo replies received (empty: no reply). The socket, its
/// timeout and each request go through the kernel layer, so the trace shows them;
/// reading the replies does not (`untraced.rs`).
pub fn ping(k: &dyn Kernel, addr: Ipv4Addr, count: u16, timeout: Duration) -> Result<Vec<Duration>> {
    let sock = k.socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP)?;
    let rtts = k.set_receive_timeout(sock, timeout).and_then(|_| echo_replies(k, sock, addr, count, timeout));
    let _ = k.close(sock);
    rtts
}

fn echo_replies(k: &dyn Kernel, sock: RawFd, addr: Ipv4Addr, count: u16, timeout: Duration) -> Result<Vec<Duration>> {
    let id = (std::process::id() & 0xffff) as u16;
    let mut rtts = Vec::new();
    for seq in 1..=count {
        let sent = Instant::now();
        k.send_to(sock, addr, &echo_request(id, seq))?;
        let deadline = sent + timeout;
        let mut buf = [0u8; 1500];
        while Instant::now() < deadline {
            let n = match untraced::recv(sock, &mut buf) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            let ihl = ((buf[0] & 0x0f) as usize) * 4;
            let icmp = &buf[ihl.min(n)..n];
            // An echo reply (type 0) with our id and sequence number.
            if icmp.len() >= 8 && icmp[0] == 0 && icmp[4..6] == id.to_be_bytes() && icmp[6..8] == seq.to_be_bytes() {
                rtts.push(sent.elapsed());
                break;
            }
        }
    }
    Ok(rtts)
}

fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![8u8, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"learnctr lesson 7");
    let sum = checksum(&p);
    p[2..4].copy_from_slice(&sum.to_be_bytes());
    p
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `GET /path` over HTTP/1.0: the status line and the body.
pub fn http_get(addr: Ipv4Addr, port: u16, path: &str, timeout: Duration) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect_timeout(&SocketAddrV4::new(addr, port).into(), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: learnctr\r\n\r\n")?;
    let mut response = Vec::new();
    stream.take(1 << 20).read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.lines().next().unwrap_or("").to_string(), body.to_string()))
}

/// `http_get`, tried every 50 ms for up to `within`: a server just started needs a
/// moment to listen. The last error when it never answers.
pub fn http_get_within(addr: Ipv4Addr, port: u16, path: &str, within: Duration) -> std::io::Result<(String, String)> {
    let deadline = std::time::Instant::now() + within;
    loop {
        match http_get(addr, port, path, Duration::from_secs(1)) {
            Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            answer => return answer,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn checksum_of_a_known_packet() {
        // An echo request with id 1, seq 1 and no data: 08 00 f7 fd 00 01 00 01.
        let p = [8u8, 0, 0, 0, 0, 1, 0, 1];
        assert_eq!(super::checksum(&p), 0xf7fd);
    }
}
