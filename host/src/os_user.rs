//! The operating-system account running the host, from the passwd entry of
//! the real user id (what the OS says), not from `$USER` or `$HOME` (what
//! the environment says, and anyone can set).

use std::ffi::CStr;
use std::path::PathBuf;

/// The passwd entry of the real user id, if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The login name.
    pub name: String,
    /// The home directory the entry names.
    pub home: PathBuf,
}

/// The account of the real user id.
pub fn current() -> Option<Account> {
    #[cfg(unix)]
    {
        passwd_entry(unsafe_getuid())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The real user id running the host.
#[cfg(unix)]
pub fn uid() -> u32 {
    unsafe_getuid()
}

/// The login name of the account running the host.
pub fn name() -> Option<String> {
    current().map(|a| a.name)
}

/// The home directory of the account running the host.
pub fn home_dir() -> Option<PathBuf> {
    current().map(|a| a.home)
}

#[cfg(unix)]
fn unsafe_getuid() -> libc::uid_t {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(unix)]
fn passwd_entry(uid: libc::uid_t) -> Option<Account> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: an all-zero passwd is a valid value to be filled in.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call: `pwd` and `result`
        // live on this stack frame, `buf` is writable for `buf.len()` bytes.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() || pwd.pw_dir.is_null() {
            return None;
        }
        // SAFETY: on success both fields point at NUL-terminated strings in `buf`.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: as above.
        let home = unsafe { CStr::from_ptr(pwd.pw_dir) }
            .to_string_lossy()
            .into_owned();
        if name.is_empty() {
            return None;
        }
        return Some(Account {
            name,
            home: PathBuf::from(home),
        });
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn the_running_account_has_a_name_and_home() {
        let account = super::current().expect("the test runs as a user with a passwd entry");
        assert!(!account.name.is_empty());
        assert!(account.home.is_absolute(), "{account:?}");
    }
}
