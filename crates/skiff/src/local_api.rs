//! The embedded scheduler's transport: kube-rs' `Client` over a tower service that hands each request
//! to the API server in this process (`skiff_apiserver::serve_local`) instead of a socket.
//!
//! The scheduler's code and requests are the same as against a remote server (`skiff scheduler
//! --kubeconfig` still speaks HTTPS); only the bytes on loopback, the TLS and the HTTP encoding and
//! parsing on both sides are gone. Measured through the API (bench/README.md), that was about a tenth of
//! the server's CPU. Each request runs as a task on the API server's runtime, as it would have for a
//! connection, not on the scheduler's own thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body_util::BodyExt;
use skiff_apiserver::{RequestBody, ResponseBody, State, User};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A `kube::Client` whose requests are served by `state` in this process, as `user`.
pub fn client(state: Arc<State>, user: User) -> kube::Client {
    let service = LocalApi {
        state,
        user: Arc::new(user),
        runtime: tokio::runtime::Handle::current(),
    };
    kube::Client::new(service, "default")
}

#[derive(Clone)]
struct LocalApi {
    state: Arc<State>,
    user: Arc<User>,
    runtime: tokio::runtime::Handle,
}

impl tower_service::Service<http::Request<kube::client::Body>> for LocalApi {
    type Response = http::Response<ResponseBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<kube::client::Body>) -> Self::Future {
        let req =
            req.map(|b| -> RequestBody { b.map_err(|e| Box::new(e) as BoxError).boxed_unsync() });
        let (state, user) = (self.state.clone(), self.user.clone());
        // The request's future is large: boxed, the task moves a pointer instead of copying it
        // on every move into the runtime.
        let task = self
            .runtime
            .spawn(async move { Box::pin(skiff_apiserver::serve_local(state, req, &user)).await });
        Box::pin(async move { task.await.map_err(|e| Box::new(e) as BoxError) })
    }
}
