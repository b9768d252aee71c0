//! A test PKI and TLS servers on loopback, for the https tests.
//!
//! [`TestCa`] is a certificate authority made in the test (rcgen), which
//! issues server certificates for chosen names and validity windows.
//! [`TlsServer`] is a rustls server in a thread of the test process, on
//! 127.0.0.1 port 0, that records what reached it: each request that got
//! through a handshake, each handshake that failed (and why, from the
//! server's side), and how many connections were made at all.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority that lives for one test.
pub(crate) struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// When a server certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validity {
    /// From 2024 to 2099.
    Current,
    /// All of 2020.
    Expired,
}

/// A server certificate and its key.
pub(crate) struct ServerCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TestCa {
    pub(crate) fn new(common_name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA certificate, PEM.
    pub(crate) fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Write the CA certificate to `dir/name` and return the path.
    pub(crate) fn write_pem(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.pem()).expect("write CA PEM");
        path
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub(crate) fn issue(&self, names: &[&str], validity: Validity) -> ServerCert {
        let names: Vec<String> = names.iter().map(|n| (*n).to_string()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "test server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        match validity {
            Validity::Current => {
                params.not_before = rcgen::date_time_ymd(2024, 1, 1);
                params.not_after = rcgen::date_time_ymd(2099, 12, 31);
            }
            Validity::Expired => {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2020, 12, 31);
            }
        }
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        ServerCert {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

/// One request a server received over TLS.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Received {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

/// What the server answers to request `n` (from 0); `None` holds the
/// connection open without answering until the server stops.
pub(crate) type Respond = Box<dyn FnMut(usize, &Received) -> Option<Vec<u8>> + Send>;

/// An HTTP/1.1 response with `status`, a JSON or text body and `extra`
/// header lines.
pub(crate) fn response(status: u16, content_type: &str, body: &str, extra: &[&str]) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.push_str(body);
    head.into_bytes()
}

/// A TLS server on 127.0.0.1 serving one certificate.
pub(crate) struct TlsServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Received>>>,
    failures: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsServer {
    pub(crate) fn start(cert: ServerCert, mut respond: Respond) -> TlsServer {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(cert.chain, cert.key)
            .expect("server config");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let mut server = TlsServer {
            port,
            connections: Arc::default(),
            requests: Arc::default(),
            failures: Arc::default(),
            stop: Arc::default(),
            thread: None,
        };
        let (connections, requests, failures, stop) = (
            Arc::clone(&server.connections),
            Arc::clone(&server.requests),
            Arc::clone(&server.failures),
            Arc::clone(&server.stop),
        );
        let thread = std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    Err(e) => panic!("accept: {e}"),
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let conn = rustls::ServerConnection::new(Arc::clone(&config)).expect("conn");
                let mut tls = rustls::StreamOwned::new(conn, stream);
                match read_request(&mut tls) {
                    Ok(request) => {
                        let n = {
                            let mut seen = requests.lock().expect("lock");
                            seen.push(request.clone());
                            seen.len() - 1
                        };
                        match respond(n, &request) {
                            Some(bytes) => {
                                // The client may be gone already (its timeout).
                                let _ = tls.write_all(&bytes);
                                tls.conn.send_close_notify();
                                let _ = tls.flush();
                            }
                            None => {
                                while !stop.load(Ordering::SeqCst) {
                                    std::thread::sleep(Duration::from_millis(10));
                                }
                            }
                        }
                    }
                    Err(e) => failures.lock().expect("lock").push(e.to_string()),
                }
            }
        });
        server.thread = Some(thread);
        server
    }

    /// A server that answers every request with 200 and `body`.
    pub(crate) fn answering(cert: ServerCert, body: &'static str) -> TlsServer {
        TlsServer::start(
            cert,
            Box::new(move |_, _| Some(response(200, "text/plain", body, &[]))),
        )
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// How many TCP connections reached the server.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The requests that got through a handshake.
    pub(crate) fn requests(&self) -> Vec<Received> {
        self.requests.lock().expect("lock").clone()
    }

    /// The server's side of each failed handshake, once there are `n` of
    /// them (the client may give up before the server notices), or after
    /// 10 s, whichever comes first.
    pub(crate) fn failures(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.failures.lock().expect("lock").clone();
            if seen.len() >= n || std::time::Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Read one request (the handshake happens on the first read): the head,
/// then `content-length` bytes of body.
fn read_request(
    tls: &mut rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
) -> std::io::Result<Received> {
    tls.sock.set_nonblocking(false)?;
    tls.sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tls.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the client closed the connection before a request",
            ));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = crate::support::content_length(&head);
    let mut body = vec![0u8; length];
    tls.read_exact(&mut body)?;
    Ok(Received { head, body })
}
