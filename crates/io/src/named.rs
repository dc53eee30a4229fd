//! Short lists of things by name, such as a socket's event handlers: a
//! few entries, where a list is smaller and as fast as a map.

/// Entries by name, in the order first set.
pub(crate) type Named<T> = Vec<(Box<str>, T)>;

/// Sets the entry of `name` to `value`, replacing an earlier one.
pub(crate) fn set<T>(list: &mut Named<T>, name: &str, value: T) {
    match list.iter_mut().find(|(entry, _)| &**entry == name) {
        Some(slot) => slot.1 = value,
        None => list.push((name.into(), value)),
    }
}

/// The entry of `name`, if any.
pub(crate) fn get<'a, T>(list: &'a Named<T>, name: &str) -> Option<&'a T> {
    list.iter()
        .find(|(entry, _)| &**entry == name)
        .map(|(_, value)| value)
}
