//! A fake merchant endpoint for events on loopback: records every delivery and the
//! status it answered, and can fail the first deliveries or never answer at all.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::fake_klix::{Call, accept, read_request};

/// How the endpoint answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// 503 to the first `n` deliveries, 200 to the rest.
    FailFirst(usize),
    /// Reads each delivery and never answers.
    Hang,
}

/// One delivery and what the endpoint answered (`None`: nothing).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The request.
    pub call: Call,
    /// The status answered.
    pub status: Option<u16>,
}

#[derive(Debug)]
struct Shared {
    behaviour: Behaviour,
    seen: AtomicUsize,
    deliveries: Mutex<Vec<Delivery>>,
    stopped: AtomicBool,
    /// Connections the hanging endpoint holds open.
    held: Mutex<Vec<TcpStream>>,
}

/// The running endpoint.
#[derive(Debug)]
pub struct Merchant {
    /// Where it listens.
    pub address: SocketAddr,
    shared: Arc<Shared>,
}

impl Merchant {
    /// Starts it on an ephemeral loopback port.
    pub fn start(behaviour: Behaviour) -> Merchant {
        Merchant::bind("127.0.0.1:0".parse().unwrap(), behaviour)
    }

    /// Starts it on `address` (to come back on the port a test reserved).
    pub fn bind(address: SocketAddr, behaviour: Behaviour) -> Merchant {
        let listener = TcpListener::bind(address).expect("binding the merchant endpoint");
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            behaviour,
            seen: AtomicUsize::new(0),
            deliveries: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
            held: Mutex::new(Vec::new()),
        });
        accept(listener, shared.clone(), |shared| &shared.stopped, serve);
        Merchant { address, shared }
    }

    /// The endpoint's URL.
    pub fn url(&self) -> String {
        format!("http://{}/hooks/rulegate", self.address)
    }

    /// Every delivery so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries.lock().unwrap().clone()
    }
}

impl Drop for Merchant {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
        self.shared.held.lock().unwrap().clear();
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let Some(call) = read_request(&stream) else {
        return;
    };
    let n = shared.seen.fetch_add(1, Ordering::SeqCst);
    let status = match shared.behaviour {
        Behaviour::FailFirst(failures) if n < failures => Some(503),
        Behaviour::FailFirst(_) => Some(200),
        Behaviour::Hang => None,
    };
    shared
        .deliveries
        .lock()
        .unwrap()
        .push(Delivery { call, status });
    match status {
        Some(status) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
        None => shared.held.lock().unwrap().push(stream),
    }
}
