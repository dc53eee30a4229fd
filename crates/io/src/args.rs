//! [`Args`]: the arguments of an event or an acknowledgement, and
//! [`IntoArgs`]: what `emit` takes and an event handler returns.
//!
//! Arguments are dynamic values ([`Value`], `MessagePack`'s data model, in
//! which binary data is a value of its own): the JSON parser turns its
//! binary placeholders into [`Value::Binary`] and back, so handlers see the
//! same arguments whichever parser the client speaks. They convert to and
//! from Rust types with serde; `bytes::Bytes` fields (or `serde_bytes`)
//! travel as binary, `Vec<u8>` as an array of numbers, as in JavaScript.

use std::any::Any;

use bytes::Bytes;
use rmpv::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Converting arguments to or from Rust types failed.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// A value could not be turned into the type asked for.
    #[error("argument {index} does not fit the type asked for: {source}")]
    Decode {
        /// Which argument (0 is the first after the event name).
        index: usize,
        /// What did not fit.
        source: crate::value::ValueError,
    },
    /// A Rust value could not be serialized.
    #[error("cannot serialize the argument: {0}")]
    Encode(#[source] crate::value::ValueError),
}

/// The arguments of an event (after its name) or of an acknowledgement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args(Vec<Value>);

impl Args {
    /// No arguments.
    pub fn new() -> Args {
        Args(Vec::new())
    }

    /// Arguments from values.
    pub fn from_values(values: Vec<Value>) -> Args {
        Args(values)
    }

    /// One argument, serialized.
    ///
    /// # Errors
    ///
    /// [`ArgsError::Encode`] if `value` cannot be serialized.
    pub fn one<T: Serialize + ?Sized>(value: &T) -> Result<Args, ArgsError> {
        Ok(Args(vec![to_value(value)?]))
    }

    /// Adds an argument, serialized.
    ///
    /// # Errors
    ///
    /// [`ArgsError::Encode`] if `value` cannot be serialized.
    pub fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ArgsError> {
        self.0.push(to_value(value)?);
        Ok(())
    }

    /// Adds an argument that is already a value.
    pub fn push_value(&mut self, value: Value) {
        self.0.push(value);
    }

    /// Adds a binary argument.
    pub fn push_binary(&mut self, data: impl Into<Bytes>) {
        self.0.push(Value::Binary(data.into().into()));
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The argument at `index` as a `T`; a missing argument is taken as
    /// `null`, so `Option<T>` and `()` accept it.
    ///
    /// # Errors
    ///
    /// [`ArgsError::Decode`] if the value does not fit `T`.
    pub fn get<T: DeserializeOwned>(&self, index: usize) -> Result<T, ArgsError> {
        let value = self.0.get(index).cloned().unwrap_or(Value::Nil);
        crate::value::from_value(value).map_err(|source| ArgsError::Decode { index, source })
    }

    /// Takes the argument at `index` out as a `T`, without copying it;
    /// as [`get`](Self::get) otherwise.
    ///
    /// # Errors
    ///
    /// [`ArgsError::Decode`] if the value does not fit `T`.
    pub fn take<T: DeserializeOwned>(&mut self, index: usize) -> Result<T, ArgsError> {
        let value = self
            .0
            .get_mut(index)
            .map_or(Value::Nil, |slot| std::mem::replace(slot, Value::Nil));
        crate::value::from_value(value).map_err(|source| ArgsError::Decode { index, source })
    }

    /// All the arguments as one `T` read as a sequence: a tuple
    /// `(A, B, C)` for three arguments, or a `Vec<T>`.
    ///
    /// # Errors
    ///
    /// [`ArgsError::Decode`] (index 0) if they do not fit `T`.
    pub fn into_tuple<T: DeserializeOwned>(self) -> Result<T, ArgsError> {
        crate::value::from_value(Value::Array(self.0))
            .map_err(|source| ArgsError::Decode { index: 0, source })
    }

    /// The argument at `index` if it is binary.
    pub fn binary(&self, index: usize) -> Option<Bytes> {
        match self.0.get(index) {
            Some(Value::Binary(data)) => Some(Bytes::copy_from_slice(data)),
            _ => None,
        }
    }

    /// The values.
    pub fn values(&self) -> &[Value] {
        &self.0
    }

    /// The values, owned.
    pub fn into_values(self) -> Vec<Value> {
        self.0
    }
}

impl From<Vec<Value>> for Args {
    fn from(values: Vec<Value>) -> Args {
        Args(values)
    }
}

/// `value` as a dynamic [`Value`], or why not.
pub(crate) fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ArgsError> {
    crate::value::to_value(value).map_err(ArgsError::Encode)
}

/// What `emit` sends after the event's name, and what an event handler
/// returns as its acknowledgement (when the client asked for one; the
/// value is dropped otherwise):
///
/// - `()`: no arguments;
/// - [`Args`]: those arguments;
/// - any other serializable value: that one argument (`None` is `null`).
pub trait IntoArgs: Send + 'static {
    /// The arguments.
    ///
    /// # Errors
    ///
    /// [`ArgsError::Encode`] if the value cannot be serialized.
    fn into_args(self) -> Result<Args, ArgsError>;
}

impl<T: Serialize + Send + 'static> IntoArgs for T {
    fn into_args(self) -> Result<Args, ArgsError> {
        let any: &dyn Any = &self;
        if any.is::<()>() {
            return Ok(Args::new());
        }
        let mut boxed: Box<dyn Any> = Box::new(self);
        if let Some(args) = boxed.downcast_mut::<Args>() {
            return Ok(std::mem::take(args));
        }
        match boxed.downcast::<T>() {
            Ok(value) => Args::one(&*value),
            Err(_) => unreachable!("the box holds a T"),
        }
    }
}

impl Serialize for Args {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Chat {
        text: String,
        file: Bytes,
    }

    #[test]
    fn typed_arguments_round_trip_with_binary_as_binary() {
        let chat = Chat {
            text: "hi".into(),
            file: Bytes::from_static(&[0, 1, 2]),
        };
        let mut args = Args::one(&chat).unwrap();
        args.push(&7_u8).unwrap();
        let Value::Map(fields) = &args.values()[0] else {
            panic!("a map: {args:?}")
        };
        assert!(matches!(fields[1].1, Value::Binary(_)));
        assert_eq!(args.get::<Chat>(0).unwrap(), chat);
        assert_eq!(args.get::<u8>(1).unwrap(), 7);
        assert_eq!(args.get::<Option<u8>>(2).unwrap(), None);
        assert!(args.get::<String>(1).is_err());
        let (back, n): (Chat, u32) = args.into_tuple().unwrap();
        assert_eq!((back, n), (chat, 7));
    }

    #[test]
    fn acks_from_unit_args_and_values() {
        assert!(().into_args().unwrap().is_empty());
        assert_eq!(
            Option::<u8>::None.into_args().unwrap().values(),
            [Value::Nil]
        );
        let mut two = Args::new();
        two.push(&1).unwrap();
        two.push("b").unwrap();
        assert_eq!(two.clone().into_args().unwrap(), two);
        assert_eq!(
            "x".to_owned().into_args().unwrap().values(),
            [Value::from("x")]
        );
    }
}
