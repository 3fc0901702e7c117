//! Requests hyper cannot parse (a malformed request line or header, a target or header
//! block past its own buffer) are refused by hyper itself, before any router sees them,
//! with an empty body. A connection wrapped in [`Unparsed`] gives that refusal the
//! `{"error", "message"}` body of every other client mistake: the head hyper writes for
//! it, and only that head, is recognised on its way out and replaced.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose automatic refusals carry a JSON body.
pub(super) struct Unparsed<S> {
    inner: S,
    /// A replacement refusal not yet written whole, and how much of it is.
    pending: Vec<u8>,
    written: usize,
}

impl<S> Unparsed<S> {
    pub(super) fn new(inner: S) -> Self {
        Unparsed {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> Unparsed<S> {
    /// Writes what is left of a replacement refusal.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Unparsed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Unparsed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(refusal) = with_body(buf) {
            // Taken whole: the replacement goes out here or on the next write or flush.
            self.pending = refusal;
            if let Poll::Ready(Err(error)) = self.drain(cx) {
                return Poll::Ready(Err(error));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Left at the default, `false`: hyper then writes each response as one buffer, so
    // an automatic refusal's head arrives whole in one `poll_write`.
}

/// Bytes in the longest head hyper writes for a refusal (status line and three headers).
const MAX_HEAD: usize = 256;

/// The refusal with a JSON body, when `bytes` are exactly the head hyper writes for a
/// request it could not parse: a 400, 414 or 431 status line, `connection: close`,
/// `content-length: 0` and `date`, and nothing after the blank line. Every response of
/// the router's has a body and a content type, so none is mistaken for one.
fn with_body(bytes: &[u8]) -> Option<Vec<u8>> {
    // Every other response has a body after its head, or is no refusal: decided from
    // the first and last bytes, before anything is parsed.
    if bytes.len() > MAX_HEAD || !bytes.starts_with(b"HTTP/1.1 4") || !bytes.ends_with(b"\r\n\r\n")
    {
        return None;
    }
    let head = std::str::from_utf8(bytes).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.strip_prefix("HTTP/1.1 ")?;
    let (code, message) = match status.get(..3)? {
        "400" => ("bad_request", "the request line or a header is malformed"),
        "414" => ("uri_too_long", "the request target is too long"),
        "431" => (
            "request_header_fields_too_large",
            "the request line and headers are too large",
        ),
        _ => return None,
    };
    let mut date = None;
    let mut rest: Vec<&str> = Vec::new();
    for line in lines {
        match line.split_once(": ") {
            Some(("date", value)) => date = Some(value),
            _ => rest.push(line),
        }
    }
    if rest != ["connection: close", "content-length: 0"] {
        return None;
    }
    let body = serde_json::json!({ "error": code, "message": message }).to_string();
    let mut refusal = format!(
        "HTTP/1.1 {status}\r\nconnection: close\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n",
        body.len()
    );
    if let Some(date) = date {
        refusal.push_str(&format!("date: {date}\r\n"));
    }
    refusal.push_str("\r\n");
    refusal.push_str(&body);
    Some(refusal.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_automatic_refusal_is_given_a_body() {
        let automatic = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 14:15:54 GMT\r\n\r\n";
        let refusal = String::from_utf8(with_body(automatic).unwrap()).unwrap();
        let (head, body) = refusal.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains("date: Thu, 03 Dec 2026 14:15:54 GMT"),
            "{head}"
        );
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"], "bad_request");
        let too_large = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        let refusal = String::from_utf8(with_body(too_large).unwrap()).unwrap();
        assert!(refusal.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(refusal.ends_with(r#""error":"request_header_fields_too_large","message":"the request line and headers are too large"}"#), "{refusal}");

        for other in [
            // The router's own answers have a body and a content type.
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\nmore",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
        ] {
            assert_eq!(with_body(other), None, "{}", String::from_utf8_lossy(other));
        }
    }
}
