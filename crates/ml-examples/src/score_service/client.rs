//! An HTTP/1.1 client for the service's tests and the load test, on hyper's connection API:
//! one keep-alive connection per client. [`AsyncClient`] is for many connections on one tokio
//! runtime (the load test drives 64 of them from one thread); [`Client`] wraps one in a
//! blocking interface with a runtime of its own (the tests).

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

/// How long one request may take before the blocking client gives up.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One response: its status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The body (the service answers JSON).
    pub body: String,
}

impl Reply {
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

fn io_error(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(e)
}

/// A keep-alive connection to the service, used from async code (must be created and used
/// inside a tokio runtime: the connection is driven by a task spawned on it).
#[derive(Debug)]
pub struct AsyncClient {
    sender: SendRequest<Full<Bytes>>,
}

impl AsyncClient {
    /// Connects to `addr` (with `TCP_NODELAY`) and starts the connection's task.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<AsyncClient> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io_error)?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or the client is dropped.
            let _ = connection.await;
        });
        Ok(AsyncClient { sender })
    }

    /// Sends a request with a JSON body (empty for `GET`) and reads the whole response.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> std::io::Result<Reply> {
        self.sender.ready().await.map_err(io_error)?;
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, "localhost")
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(io_error)?;
        let response = self.sender.send_request(request).await.map_err(io_error)?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(io_error)?
            .to_bytes();
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// `POST path` with a JSON body.
    pub async fn post(&mut self, path: &str, body: Bytes) -> std::io::Result<Reply> {
        self.request(Method::POST, path, body).await
    }
}

/// A keep-alive connection to the service with a blocking interface (a current-thread tokio
/// runtime of its own); each request times out after 30 s.
#[derive(Debug)]
pub struct Client {
    runtime: tokio::runtime::Runtime,
    inner: AsyncClient,
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let inner = runtime.block_on(AsyncClient::connect(addr))?;
        Ok(Client { runtime, inner })
    }

    /// Sends a request and reads its response.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Reply> {
        let method = Method::from_bytes(method.as_bytes()).map_err(io_error)?;
        let body = Bytes::copy_from_slice(body);
        let inner = &mut self.inner;
        self.runtime
            .block_on(async {
                tokio::time::timeout(TIMEOUT, inner.request(method, path, body)).await
            })
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 30 s"))?
    }

    /// `POST path` with a JSON body.
    pub fn post(&mut self, path: &str, body: &str) -> std::io::Result<Reply> {
        self.request("POST", path, body.as_bytes())
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> std::io::Result<Reply> {
        self.request("GET", path, b"")
    }
}
