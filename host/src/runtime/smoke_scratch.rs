use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::contract::{ReviewInput, StepInput};
use crate::manifest::{Grants, Limits, Manifest, PluginKind};

fn guest(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-wasip2/guest")
        .join(format!("{name}.wasm"))
}

fn manifest(name: &str, file: &str, kind: PluginKind, timeout_ms: u64) -> Manifest {
    Manifest {
        path: PathBuf::from(format!("/scratch/{name}/plugin.toml")),
        dir: PathBuf::from("/scratch"),
        name: name.into(),
        kind,
        component: guest(file),
        sha256: None,
        build: None,
        grants: Grants {
            writes: vec!["hello/".into()],
            ..Grants::default()
        },
        limits: Limits {
            timeout: Duration::from_millis(timeout_ms),
            ..Limits::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = RuntimeConfig::new(dir.path().join("cache"));
    cfg.max_instances = 8;
    let rt = Runtime::new(cfg).expect("runtime");
    let ctx = GrantContext {
        workspace: dir.path(),
        protected: &[],
    };

    let t = std::time::Instant::now();
    let hello = rt
        .load(
            &manifest("hello-tool", "hello_tool", PluginKind::Tool, 2000),
            &ctx,
        )
        .expect("load");
    eprintln!("load 1: {:?} {:?}", t.elapsed(), hello.cache_outcome());
    let t = std::time::Instant::now();
    let hello2 = rt
        .load(
            &manifest("hello-tool", "hello_tool", PluginKind::Tool, 2000),
            &ctx,
        )
        .expect("load");
    eprintln!("load 2: {:?} {:?}", t.elapsed(), hello2.cache_outcome());
    let d = hello.describe().await.expect("describe");
    eprintln!("describe: {:?}", d);
    let input = StepInput {
        input: r#"{"name":"World"}"#.into(),
        needs: vec![],
    };
    for _ in 0..3 {
        let r = hello.invoke_tool(&input).await.expect("invoke");
        eprintln!("invoke: {:?} dur {:?}", r.value, r.duration);
        eprintln!("logs: {:?}", r.logs);
        if let Ok(out) = &r.value {
            for w in &out.writes {
                eprintln!("check_write: {:?}", hello.grants().check_write(&w.path));
            }
        }
    }
    let bad = hello
        .invoke_tool(&StepInput {
            input: "{}".into(),
            needs: vec![],
        })
        .await
        .expect("invoke");
    eprintln!("bad input: {:?}", bad.value);
    let e = hello
        .review(&ReviewInput {
            outputs: vec![],
            writes: vec![],
        })
        .await
        .expect_err("wrong kind");
    eprintln!("review on tool: {e}");

    let fut = hello.invoke_tool(&input);
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&fut);
    drop(fut);

    let trapper = rt
        .load(
            &manifest("trapper", "guest_trapper", PluginKind::Tool, 2000),
            &ctx,
        )
        .expect("load");
    let e = trapper.invoke_tool(&input).await.expect_err("trap");
    eprintln!("trapper: {:?} -- {e}\nlogs: {:?}", e.kind, e.logs);

    let spinner = rt
        .load(
            &manifest("spinner", "guest_spinner", PluginKind::Tool, 300),
            &ctx,
        )
        .expect("load");
    let t = std::time::Instant::now();
    let e = spinner.invoke_tool(&input).await.expect_err("timeout");
    eprintln!("spinner after {:?}: {:?} -- {e}", t.elapsed(), e.kind);

    let sleeper = rt
        .load(
            &manifest("sleeper", "guest_sleeper", PluginKind::Tool, 300),
            &ctx,
        )
        .expect("load");
    let t = std::time::Instant::now();
    let e = sleeper.invoke_tool(&input).await.expect_err("timeout");
    eprintln!("sleeper after {:?}: {:?} -- {e}", t.elapsed(), e.kind);

    let e = rt
        .load(
            &manifest("wrong-kind", "guest_wrong_kind", PluginKind::Tool, 300),
            &ctx,
        )
        .expect_err("wrong kind");
    eprintln!("wrong kind: {e}");
    let r = rt
        .load(
            &manifest("wrong-kind", "guest_wrong_kind", PluginKind::Reviewer, 300),
            &ctx,
        )
        .expect("load reviewer");
    let v = r
        .review(&ReviewInput {
            outputs: vec![],
            writes: vec![],
        })
        .await
        .expect("review");
    eprintln!("review: {:?}", v.value);

    let esc = rt
        .load(
            &manifest(
                "escape-writer",
                "guest_escape_writer",
                PluginKind::Tool,
                2000,
            ),
            &ctx,
        )
        .expect("load");
    let r = esc
        .invoke_tool(&StepInput {
            input: r#"{"paths":["../outside.txt","/etc/passwd","hello/ok.txt"]}"#.into(),
            needs: vec![],
        })
        .await
        .expect("invoke");
    if let Ok(out) = &r.value {
        for w in &out.writes {
            match esc.grants().check_write(&w.path) {
                Ok(p) => eprintln!("ok {p}"),
                Err(e) => eprintln!("denied: {e}"),
            }
        }
    }

    // small memory limit
    let mut m = manifest("hello-tool", "hello_tool", PluginKind::Tool, 2000);
    m.limits.memory_bytes = 64 * 1024;
    let tiny = rt.load(&m, &ctx).expect("load");
    let e = tiny.invoke_tool(&input).await.expect_err("oom");
    eprintln!("tiny memory: {:?} -- {e}", e.kind);
    // tiny output
    let mut m = manifest("hello-tool", "hello_tool", PluginKind::Tool, 2000);
    m.limits.max_output_bytes = 10;
    let small = rt.load(&m, &ctx).expect("load");
    let e = small.invoke_tool(&input).await.expect_err("too large");
    eprintln!("tiny output: {:?} -- {e}", e.kind);

    // concurrency
    let mut handles = Vec::new();
    for _ in 0..16 {
        let h = hello.clone();
        let i = input.clone();
        handles.push(tokio::spawn(async move {
            h.invoke_tool(&i).await.map(|r| r.duration)
        }));
    }
    for h in handles {
        eprintln!(
            "concurrent: {:?}",
            h.await.expect("join").map_err(|e| e.to_string())
        );
    }
}
