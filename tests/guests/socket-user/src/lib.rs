//! A tool that tries to open a TCP connection, so its component imports
//! `wasi:sockets`. Its manifest grants no network: `host plugins check` must
//! warn that every connection it tries will be denied.

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};

struct SocketUser;

impl Tool for SocketUser {
    fn describe() -> Descriptor {
        Descriptor::new("socket-user", "Tries to connect to 127.0.0.1:9.")
    }

    fn invoke(_input: StepInput) -> Result<ToolOutput, PluginError> {
        let outcome = match std::net::TcpStream::connect("127.0.0.1:9") {
            Ok(_) => "connected".to_string(),
            Err(e) => e.to_string(),
        };
        ToolOutput::json(&outcome)
    }
}

harness_sdk::export_tool!(SocketUser);
