//! What an interpreter guest printed when it died: the uncaught Python
//! exception or JavaScript error at the end of its stderr.
//!
//! componentize-py and componentize-js turn an uncaught exception into a
//! trap whose stderr ends with the interpreter's abort lines (`Python function
//! threw an unexpected exception`, `Redirecting call to abort() to
//! mozalloc_abort`), which say nothing about the cause; the guest's own
//! message is above them (Python's traceback ends with `KeyError: 'nope'`;
//! StarlingMonkey prints the error, then `Stack:` and its frames). A trap is
//! summarized by that message; the whole stderr stays in the step's logs.
//! The text is the guest's: callers render it inert.

/// Which interpreter printed the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Language {
    Python,
    JavaScript,
}

/// An uncaught exception found at the end of a guest's stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Uncaught {
    pub(super) language: Language,
    /// The exception's own line: `KeyError: 'nope'`, `Error: no such file`.
    pub(super) message: String,
    /// Where it was raised (Python: the innermost `File "...", line N, in f`).
    pub(super) location: Option<String>,
}

impl Uncaught {
    /// One line for the failure summary, then a hint line.
    pub(super) fn summary(&self, render: impl Fn(&str) -> String) -> String {
        match self.language {
            Language::Python => format!(
                "uncaught Python exception {}{}\nhint: the traceback is in the step's logs; to fail with a message of your own, raise Err(types.PluginError_Failed(\"...\"))",
                render(&self.message),
                self.location
                    .as_ref()
                    .map(|l| format!(" ({})", render(l)))
                    .unwrap_or_default()
            ),
            Language::JavaScript => format!(
                "uncaught JavaScript throw: {}\nhint: the stack is in the step's logs; to fail with a message of your own, throw a plugin-error: {{ tag: 'failed', val: '...' }}",
                render(&self.message)
            ),
        }
    }
}

/// The uncaught exception the end of `stderr` reports, if it reports one.
pub(super) fn uncaught(stderr: &str) -> Option<Uncaught> {
    let lines: Vec<&str> = stderr.lines().collect();
    match (python(&lines), javascript(&lines)) {
        (Some((p, py)), Some((j, js))) => Some(if p > j { py } else { js }),
        (Some((_, py)), None) => Some(py),
        (None, Some((_, js))) => Some(js),
        (None, None) => None,
    }
}

/// The last traceback's exception line, and the line index of its header.
fn python(lines: &[&str]) -> Option<(usize, Uncaught)> {
    let start = lines
        .iter()
        .rposition(|l| l.trim_end() == "Traceback (most recent call last):")?;
    let mut location = None;
    for line in &lines[start + 1..] {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let frame = line.trim();
            if frame.starts_with("File \"") {
                location = Some(frame.to_string());
            }
            continue;
        }
        let message = line.trim_end();
        return is_exception_line(message).then(|| {
            (
                start,
                Uncaught {
                    language: Language::Python,
                    message: message.to_string(),
                    location,
                },
            )
        });
    }
    None
}

/// `Name` or `Name: message`, Name a dotted Python identifier.
fn is_exception_line(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or_default();
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// The error StarlingMonkey printed before its last `Stack:` line, and that
/// line's index.
fn javascript(lines: &[&str]) -> Option<(usize, Uncaught)> {
    let stack = lines.iter().rposition(|l| l.trim_end() == "Stack:")?;
    let message = lines[..stack]
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())?
        .trim();
    Some((
        stack,
        Uncaught {
            language: Language::JavaScript,
            message: not_a_plugin_error(message).unwrap_or_else(|| message.to_string()),
            location: None,
        },
    ))
}

/// The value a JavaScript export threw, when the bindings refused it as the
/// export's `plugin-error` (`invalid variant tag value `undefined` (received
/// `Error: x`) specified for `PluginError``): that value is the cause.
fn not_a_plugin_error(message: &str) -> Option<String> {
    let rest = message.strip_prefix("invalid variant tag value `")?;
    let (tag, rest) = rest.split_once("` (received `")?;
    let (received, _) = rest.rsplit_once("`) specified for `")?;
    Some(if received == "[object Object]" {
        format!("an object whose tag {tag} is not a plugin-error tag")
    } else {
        received.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_traceback_is_summarized_by_its_exception_line() {
        let stderr = "Traceback (most recent call last):\n  File \"/0/app.py\", line 28, in invoke\n    {\"a\": 1}[key]\n    ~~~~~~~~^^^^^\nKeyError: 'nope'\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1293:29:\nPython function threw an unexpected exception\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        let u = uncaught(stderr).expect("found");
        assert_eq!(u.language, Language::Python);
        assert_eq!(u.message, "KeyError: 'nope'");
        assert_eq!(
            u.location.as_deref(),
            Some("File \"/0/app.py\", line 28, in invoke")
        );
        let summary = u.summary(str::to_string);
        assert!(
            summary.starts_with(
                "uncaught Python exception KeyError: 'nope' (File \"/0/app.py\", line 28, in invoke)\nhint: "
            ),
            "{summary}"
        );
    }

    #[test]
    fn the_last_of_chained_tracebacks_counts() {
        let stderr = "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\nValueError: first\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"a.py\", line 3, in g\nRuntimeError: second\n";
        let u = uncaught(stderr).expect("found");
        assert_eq!(u.message, "RuntimeError: second");
        assert_eq!(u.location.as_deref(), Some("File \"a.py\", line 3, in g"));
    }

    #[test]
    fn a_javascript_throw_is_summarized_by_what_was_thrown() {
        let stderr = "invalid variant tag value `undefined` (received `Error: no such thing: nope`) specified for `PluginError`\nStack:\n  export_toolPlugin_0_1_0$invoke@/tmp/x/sources/initializer.js:3002:15\nRedirecting call to abort() to mozalloc_abort\n";
        let u = uncaught(stderr).expect("found");
        assert_eq!(u.language, Language::JavaScript);
        assert_eq!(u.message, "Error: no such thing: nope");
        let tagged = "invalid variant tag value `\"nope\"` (received `[object Object]`) specified for `PluginError`\nStack:\n  f@x.js:1:1\n";
        assert_eq!(
            uncaught(tagged).expect("found").message,
            "an object whose tag \"nope\" is not a plugin-error tag"
        );
        let plain = "TypeError: x is undefined\nStack:\n  describe@plugin.js:3:5\n";
        assert_eq!(
            uncaught(plain).expect("found").message,
            "TypeError: x is undefined"
        );
    }

    #[test]
    fn other_stderr_is_not_mistaken_for_an_exception() {
        for stderr in [
            "",
            "thread 'main' panicked at src/lib.rs:3:5:\nboom\nnote: run with `RUST_BACKTRACE=1`\n",
            "Traceback (most recent call last):\n  File \"a.py\", line 1\n",
            "Traceback (most recent call last):\n  File \"a.py\", line 1\n!! not an exception line\n",
        ] {
            assert_eq!(uncaught(stderr), None, "{stderr}");
        }
    }
}
