//! The one rule for the names a person gives things: plugin names, step ids,
//! grants tables. One rule, one hint, so every file that names a plugin or
//! a step says the same thing about a bad one.

/// The rule, for hints: "use 1 to 64 …".
pub const NAME_RULE: &str = "1 to 64 lowercase letters, digits and dashes, starting with a letter";

/// Whether `name` follows [`NAME_RULE`].
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
