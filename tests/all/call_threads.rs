//! Where a call runs does not change what it can reach. A workflow run's
//! calls each run on a thread of their own with their file operations right
//! there (`CallThreads::Own`); MCP calls hand each file operation to the
//! blocking pool (`CallThreads::Shared`). Both placements get the same
//! attacks: escapes out of the mounts, writes to the read-only mount, a
//! FIFO in the read-only mount that blocks the open (stopped by the call's
//! timeout, the plugin still serving afterwards), and a mount swapped after
//! load. Each checks host-side files.

use std::path::Path;

use harness_host::runtime::{CallThreads, FailureKind};
use serde_json::json;

use crate::sandbox::{RO_FILE, Sandbox};
use crate::support::mkfifo;

const BOTH: [CallThreads; 2] = [CallThreads::Shared, CallThreads::Own];

fn plant_fifo(root: &Path) {
    mkfifo(&root.join("ro/pipe"));
}

#[test]
fn escapes_and_read_only_writes_are_refused_wherever_the_call_runs() {
    for threads in BOTH {
        let s = Sandbox::build_on(threads, "", |_| {});
        let before = s.files();
        for path in [
            "/ro/../canary.txt",
            "/rw/../canary.txt",
            "/secret/canary.txt",
        ] {
            s.refused(json!({ "op": "read", "path": path }));
        }
        s.refused(json!({ "op": "write", "path": "/ro/file.txt", "data": "pwned" }));
        s.refused(json!({ "op": "write", "path": "/rw/../pwned.txt", "data": "pwned" }));
        s.refused(json!({ "op": "unlink", "path": "/ro/file.txt" }));
        s.refused(json!({ "op": "symlink", "target": "/ro/file.txt", "link": "/ro/link" }));
        // What is granted still works, read-only and read-write alike.
        let report = s.fs(json!([
            { "op": "read", "path": "/ro/sub/inner.txt" },
            { "op": "list", "path": "/ro" },
        ]));
        assert_eq!(report[0]["ok"], true, "{threads:?}: {report:?}");
        assert_eq!(
            report[0]["data"],
            String::from_utf8_lossy(RO_FILE).as_ref(),
            "{threads:?}"
        );
        let (ops, changes) =
            s.fs_changes(json!([{ "op": "write", "path": "/rw/new.txt", "data": "proposed" }]));
        assert_eq!(ops[0]["ok"], true, "{threads:?}: {ops:?}");
        assert_eq!(
            changes,
            vec![("new.txt".to_string(), Some("proposed".to_string()))],
            "{threads:?}"
        );
        assert_eq!(s.files(), before, "{threads:?}: host files changed");
        s.assert_canaries_intact();
        s.assert_still_serves();
    }
}

#[test]
fn a_fifo_that_blocks_the_open_is_stopped_by_the_timeout_wherever_the_call_runs() {
    for threads in BOTH {
        let s = Sandbox::build_on(threads, "timeout-ms = 400", plant_fifo);
        let fifo = s.root.join("ro/pipe");
        let failure = s.invoke_failing(json!({
            "attack": "fs",
            "ops": [{ "op": "read", "path": "/ro/pipe" }],
        }));
        assert_eq!(failure.kind, FailureKind::Timeout, "{threads:?}: {failure}");
        // The blocked open still holds a thread: the next call does not
        // wait for it.
        s.assert_still_serves();
        let report = s.fs(json!([{ "op": "read", "path": "/ro/file.txt" }]));
        assert_eq!(report[0]["ok"], true, "{threads:?}: {report:?}");
        // Let the blocked open go (a writer comes and leaves), so the
        // thread ends before the test's runtime is dropped.
        let writer = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .expect("open the FIFO for writing");
        drop(writer);
        use std::os::unix::fs::FileTypeExt as _;
        assert!(
            std::fs::symlink_metadata(&fifo)
                .expect("fifo")
                .file_type()
                .is_fifo(),
            "{threads:?}: the host replaced the FIFO"
        );
        s.assert_canaries_intact();
    }
}

#[test]
fn a_mount_swapped_after_load_is_not_followed_wherever_the_call_runs() {
    for threads in BOTH {
        let s = Sandbox::build_on(threads, "", |_| {});
        // Swap the read-only mount's path for a folder holding a canary.
        let ro = s.root.join("ro");
        std::fs::rename(&ro, s.root.join("ro-moved")).expect("move the mount");
        std::fs::create_dir(&ro).expect("mkdir");
        std::fs::write(ro.join("file.txt"), crate::sandbox::CANARY).expect("write");
        let report = s.fs(json!([{ "op": "read", "path": "/ro/file.txt" }]));
        assert_eq!(report[0]["ok"], true, "{threads:?}: {report:?}");
        assert_eq!(
            report[0]["data"],
            String::from_utf8_lossy(RO_FILE).as_ref(),
            "{threads:?}: the call read the swapped-in folder"
        );
        s.assert_still_serves();
    }
}
