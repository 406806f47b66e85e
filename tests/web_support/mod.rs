//! Helpers for the web UI tests: a tiny HTTP/1.1 client over a `TcpStream` (so a test
//! controls every header, `Host` and `Origin` included) and a reader for server-sent
//! events with a deadline.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }
}

/// A request: the method, path, extra headers and body. `Host` defaults to the address.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, String)>,
    pub body: &'a str,
}

pub fn get(path: &str) -> Request<'_> {
    Request {
        method: "GET",
        path,
        headers: Vec::new(),
        body: "",
    }
}

pub fn post_json<'a>(path: &'a str, body: &'a str) -> Request<'a> {
    Request {
        method: "POST",
        path,
        headers: vec![("Content-Type", "application/json".into())],
        body,
    }
}

impl<'a> Request<'a> {
    pub fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn write(&self, addr: SocketAddr, stream: &mut TcpStream, close: bool) {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        if !self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            head.push_str(&format!("Host: {addr}\r\n"));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        stream.write_all(head.as_bytes()).expect("write request");
        stream.write_all(self.body.as_bytes()).expect("write body");
    }

    /// Sends the request and reads the whole response (the server closes after it).
    pub fn send(&self, addr: SocketAddr) -> Response {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        self.write(addr, &mut stream, true);
        // Read to the end, or only `Content-Length` bytes of body: some servers (Chromium's
        // DevTools) keep the connection open whatever the request says.
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf).expect("read response");
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if length.is_some_and(|len| raw.len() >= end + 4 + len) {
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad response: {text}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_string()
        };
        Response {
            status,
            headers,
            body,
        }
    }

    /// Opens a server-sent-events stream.
    pub fn stream(&self, addr: SocketAddr) -> Events {
        let mut stream = TcpStream::connect(addr).expect("connect");
        self.write(addr, &mut stream, false);
        Events {
            reader: BufReader::new(stream),
        }
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The `data:` lines of a server-sent-events stream.
pub struct Events {
    reader: BufReader<TcpStream>,
}

impl Events {
    /// Reads `data:` payloads until `cond` holds for one (→ it) or `timeout` passes.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        mut cond: impl FnMut(&serde_json::Value) -> bool,
    ) -> Result<serde_json::Value, String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no matching event within {timeout:?}; saw {seen:?}"
                ));
            }
            self.reader
                .get_ref()
                .set_read_timeout(Some(left))
                .expect("timeout");
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => return Err(format!("stream closed; saw {seen:?}")),
                Ok(_) => {}
                Err(_) => continue,
            }
            if let Some(data) = line.trim_end().strip_prefix("data:") {
                let value: serde_json::Value =
                    serde_json::from_str(data.trim()).expect("event data is JSON");
                if cond(&value) {
                    return Ok(value);
                }
                seen.push(value);
            }
        }
    }
}

/// Kills the child when the test ends, passing or not.
pub struct Reap(pub std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
