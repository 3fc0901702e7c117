//! A fake Klix merchant API on loopback: serves orders, records every call, and can be
//! made slow. Plain HTTP/1.1 on std sockets, one thread per connection.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One call the API received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET`, `PUT`, `DELETE`.
    pub method: String,
    /// The request path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Shared {
    orders: Mutex<BTreeMap<String, Vec<u8>>>,
    calls: Mutex<Vec<Call>>,
    delay_ms: AtomicU64,
    stopped: AtomicBool,
}

/// The running fake API.
#[derive(Debug)]
pub struct FakeKlix {
    /// Where it listens.
    pub address: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeKlix {
    /// Starts it on an ephemeral loopback port.
    pub fn start() -> FakeKlix {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        accept(listener, shared.clone(), |shared| &shared.stopped, serve);
        FakeKlix { address, shared }
    }

    /// The base URL, e.g. `http://127.0.0.1:4000`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Serves `body` for `GET /merchants/*/orders/{order_id}`.
    pub fn add_order(&self, order_id: &str, body: &[u8]) {
        self.shared
            .orders
            .lock()
            .unwrap()
            .insert(order_id.to_string(), body.to_vec());
    }

    /// Delays every answer.
    pub fn set_delay(&self, delay: Duration) {
        self.shared
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }
}

impl Drop for FakeKlix {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
    }
}

/// Serves each connection of `listener` on a thread of its own with `serve`, until
/// the flag `stopped` picks out of `shared` is set (and one more connection wakes it).
pub(crate) fn accept<S: Send + Sync + 'static>(
    listener: TcpListener,
    shared: Arc<S>,
    stopped: fn(&S) -> &AtomicBool,
    serve: fn(TcpStream, &S),
) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stopped(&shared).load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let shared = shared.clone();
            std::thread::spawn(move || serve(stream, &shared));
        }
    });
}

/// Reads one HTTP/1.1 request (headers and a `Content-Length` body) from `stream`.
pub(crate) fn read_request(stream: &TcpStream) -> Option<Call> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Call {
        method,
        path,
        headers,
        body,
    })
}

fn serve(stream: TcpStream, shared: &Shared) {
    let Some(Call {
        method,
        path,
        headers,
        body,
    }) = read_request(&stream)
    else {
        return;
    };
    let delay = shared.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay));
    }
    let order_id = path.rsplit('/').next().unwrap_or("").to_string();
    let (status, answer) = match method.as_str() {
        "GET" => match shared.orders.lock().unwrap().get(&order_id) {
            Some(order) => (200, order.clone()),
            None => (404, br#"{"error":"not found"}"#.to_vec()),
        },
        "PUT" | "DELETE" => (200, b"{}".to_vec()),
        _ => (405, Vec::new()),
    };
    shared.calls.lock().unwrap().push(Call {
        method,
        path,
        headers,
        body,
    });
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    );
    let _ = stream.write_all(&answer);
}
