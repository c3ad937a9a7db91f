//! Text from outside (STS messages, token claims, ARNs a server sent, file
//! names) on one line with its control characters spelt out, so it can neither
//! start a line of its own — which a CI runner would read as a workflow command
//! (`::set-env …`) — nor move a terminal's cursor.

use std::borrow::Cow;
use std::fmt::Write;

pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_spelt_out() {
        assert_eq!(one_line("plain: a/b"), "plain: a/b");
        assert_eq!(
            one_line("denied\n::set-env name=X::y\r\x1b[2J"),
            "denied\\n::set-env name=X::y\\r\\u{1b}[2J"
        );
    }

    proptest::proptest! {
        #[test]
        fn nothing_outside_can_break_a_line(text in "\\PC*[\\n\\r\\x0b\\x0c\\u{85}]?\\PC*") {
            let shown = one_line(&text);
            proptest::prop_assert!(!shown.chars().any(char::is_control), "{}", shown);
        }
    }
}
