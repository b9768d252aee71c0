//! A person stopping a long-running server (`host console`, `host mcp`):
//! SIGINT (Ctrl-C) or SIGTERM, after which the server ends cleanly instead
//! of being cut off by the default action.

/// Wait for SIGINT or SIGTERM.
pub async fn requested() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
