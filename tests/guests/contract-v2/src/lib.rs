//! A tool built against a *future* version of the contract,
//! `harness:plugin@0.2.0`, whose `invoke` has a different shape. The host
//! serves 0.1.0: it must refuse the component at load time, naming the
//! version it expects and the one it found, and say to rebuild against the
//! host's `wit/`.

wit_bindgen::generate!({
    inline: "
        package harness:plugin@0.2.0;

        interface host {
            log: func(message: string);
        }

        interface tool-plugin {
            record request { input: string, budget-ms: u64 }
            invoke: func(request: request) -> result<string, string>;
        }

        world tool {
            import host;
            export tool-plugin;
        }
    ",
});

struct FutureTool;

impl exports::harness::plugin::tool_plugin::Guest for FutureTool {
    fn invoke(request: exports::harness::plugin::tool_plugin::Request) -> Result<String, String> {
        harness::plugin::host::log("future tool invoked");
        Ok(request.input)
    }
}

// Only in wasm: WIT export names are not valid native symbol names.
#[cfg(target_arch = "wasm32")]
export!(FutureTool);
