//! A component that exports nothing at all (a library built for
//! wasm32-wasip2 without the SDK's export macro): the host must refuse it at
//! load time, saying which export it expected and that it found none.

/// Present so the crate is not empty; nothing exports it to the host.
pub fn unused(x: u32) -> u32 {
    x.wrapping_mul(2)
}
