//! A plugin proposing a rewrite of a large file cannot stall the approval:
//! `run`, `show` and `approve` summarize a diff too large to compute (sizes,
//! line counts, both sha256s and the `diff -u` that shows it in full) instead
//! of spending minutes on it, and the approval still writes exactly the
//! proposed bytes.

use std::time::Duration;

use harness_host::digest::sha256_hex;

use crate::support::{Scratch, output_within, run_id, text};

/// `count` distinct lines of about 50 bytes, tagged with `tag`.
fn lines(tag: &str, count: usize) -> String {
    (0..count)
        .map(|i| format!("{tag} line {i:>8} of a file that is being rewritten\n"))
        .collect()
}

#[test]
fn a_rewrite_of_a_2_mb_file_is_summarized_in_every_command() {
    let s = Scratch::new();
    // 2 MB on disk; the plugin proposes 100 KB of different lines (as much
    // as a workflow's input can carry), so almost nothing matches.
    let old = lines("old", 40_000);
    assert!(old.len() >= 2_000_000);
    let new = lines("new", 2_000);
    std::fs::create_dir_all(s.out().join("drafts")).expect("mkdir");
    std::fs::write(s.out().join("drafts/big.md"), &old).expect("write old");
    let dir = s.scripted_plugins(
        &format!(
            "[[steps]]\nid = \"only\"\nplugin = \"scripted\"\ninput = {{ writes = [{{ path = \"drafts/big.md\", text = {} }}] }}\n",
            crate::support::toml_str(&new)
        ),
        "",
    );
    let limit = Duration::from_secs(30);
    let (run, _) = output_within(s.run_cmd(&dir).arg("--json"), limit);
    let id = run_id(&run);
    let fallback = |stdout: &str, id: &str, what: &str| {
        assert!(stdout.contains("diff not shown: "), "{what}: {stdout}");
        assert!(
            stdout.contains(&format!(
                "current:  {} bytes, 40000 lines, sha256 {}",
                old.len(),
                sha256_hex(old.as_bytes())
            )),
            "{what}: {stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "proposed: {} bytes, 2000 lines, sha256 {}",
                new.len(),
                sha256_hex(new.as_bytes())
            )),
            "{what}: {stdout}"
        );
        let staged = s
            .state()
            .join("runs")
            .join(id)
            .join("blobs")
            .join(sha256_hex(new.as_bytes()));
        assert!(
            stdout.contains(&format!(
                "full diff: diff -u {} {}",
                s.out().join("drafts/big.md").display(),
                staged.display()
            )),
            "{what}: {stdout}"
        );
        // Not a line of the rewrite was rendered.
        assert!(!stdout.contains("-old line"), "{what}");
    };
    let (run, _) = output_within(&mut s.run_cmd(&dir), limit);
    let second = text(&run.stdout);
    let second_id = second
        .strip_prefix("run ")
        .and_then(|r| r.split(':').next())
        .expect("run id");
    fallback(&second, second_id, "run");
    let (show, _) = output_within(s.host().args(["show", &id]), limit);
    assert!(show.status.success(), "{}", text(&show.stderr));
    fallback(&text(&show.stdout), &id, "show");
    let (approve, _) = output_within(s.host().args(["approve", &id, "--yes"]), limit);
    assert!(approve.status.success(), "{}", text(&approve.stderr));
    fallback(&text(&approve.stdout), &id, "approve");
    assert_eq!(
        std::fs::read_to_string(s.out().join("drafts/big.md")).expect("read"),
        new
    );
}
