//! A tool whose behaviour its input scripts, for the durability tests:
//!
//! - `sleep_ms`: sleep this long first (inside a host call), so parallel steps
//!   visibly overlap;
//! - `fail`: answer with this plugin error (`invalid-input`, `failed` or
//!   `transient`) every time;
//! - `counter`: a name whose call count lives in the test process (a
//!   plugin keeps no state between calls: even a read-write mount is a
//!   private copy), bumped on every call over TCP at `$COUNTER_ADDR`, which
//!   the test grants;
//!   `fail_times`: answer `transient` for the first that many calls;
//!   `hang_on_call`: sleep for an hour on that call (1-based), so a test can
//!   kill the host while the step is running;
//! - `writes`: propose these `{ path, text }` writes;
//! - `draft`: propose `drafts/draft.md` saying `verdict: revise` until the review it
//!   is given (in re-draft rounds) is from round `pass_from_round` or later,
//!   then `verdict: pass` (read by the scripted reviewer).
//!
//! The output echoes the round and which needed steps' outputs arrived.

use std::time::Duration;

use harness_sdk::{Descriptor, PluginError, StepInput, Tool, ToolOutput};

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Input {
    sleep_ms: u64,
    fail: Option<String>,
    fail_times: u32,
    hang_on_call: u32,
    counter: Option<String>,
    writes: Vec<Write>,
    draft: bool,
    pass_from_round: u32,
    review: Option<Review>,
}

#[derive(serde::Deserialize)]
struct Write {
    path: String,
    text: String,
}

#[derive(serde::Deserialize)]
struct Review {
    round: u32,
}

struct Scripted;

impl Tool for Scripted {
    fn describe() -> Descriptor {
        Descriptor::new("scripted", "Does what its input scripts (tests only).")
    }

    fn invoke(step: StepInput) -> Result<ToolOutput, PluginError> {
        let input: Input = step.parse()?;
        if input.sleep_ms > 0 {
            std::thread::sleep(Duration::from_millis(input.sleep_ms));
        }
        match input.fail.as_deref() {
            None => {}
            Some("invalid-input") => {
                return Err(PluginError::invalid_input("scripted invalid input"));
            }
            Some("failed") => return Err(PluginError::failed("scripted failure")),
            Some("transient") => return Err(PluginError::transient("scripted transient failure")),
            Some(other) => {
                return Err(PluginError::invalid_input(format!(
                    "unknown fail mode {other}"
                )));
            }
        }
        if let Some(counter) = &input.counter {
            let seen = bump(counter)? - 1;
            if seen + 1 == input.hang_on_call {
                std::thread::sleep(Duration::from_secs(3600));
            }
            if seen < input.fail_times {
                return Err(PluginError::transient(format!(
                    "not yet (call {})",
                    seen + 1
                )));
            }
        }
        let round = input.review.as_ref().map_or(0, |r| r.round + 1);
        let needs: Vec<&str> = step.needs.iter().map(|n| n.step.as_str()).collect();
        let mut output = ToolOutput::json(&serde_json::json!({ "round": round, "needs": needs }))?;
        for w in input.writes {
            output = output.propose_write(w.path, w.text);
        }
        if input.draft {
            let verdict = if round >= input.pass_from_round {
                "pass"
            } else {
                "revise"
            };
            output = output.propose_write(
                "drafts/draft.md",
                format!("draft of round {round}\nverdict: {verdict}\n"),
            );
        }
        Ok(output)
    }
}

/// Bump counter `name` on the test's counter server; returns the new count.
fn bump(name: &str) -> Result<u32, PluginError> {
    use std::io::{BufRead as _, Write as _};
    let fail = |e: std::io::Error| PluginError::failed(format!("cannot bump counter {name}: {e}"));
    let addr = std::env::var("COUNTER_ADDR")
        .map_err(|_| PluginError::failed("COUNTER_ADDR is not granted"))?;
    let mut stream = std::net::TcpStream::connect(addr.as_str()).map_err(fail)?;
    stream
        .write_all(format!("{name}\n").as_bytes())
        .map_err(fail)?;
    let mut line = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut line)
        .map_err(fail)?;
    line.trim()
        .parse()
        .map_err(|_| PluginError::failed(format!("counter server said {line:?}")))
}

harness_sdk::export_tool!(Scripted);
