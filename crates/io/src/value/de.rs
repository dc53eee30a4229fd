//! A serde `Deserializer` that reads a [`Value`] tree.

use rmpv::Value;
use serde::de::{self, Visitor};

use super::error::ValueError;

type Result<T> = std::result::Result<T, ValueError>;

/// Deserializes from an owned [`Value`], the inverse of the module's serializer: maps feed
/// structs, `Binary` feeds byte buffers, and enums are read from a variant name or a
/// one-entry map.
pub(crate) struct Deserializer(Value);

impl Deserializer {
    pub(crate) fn new(value: Value) -> Self {
        Self(value)
    }
}

impl<'de> de::Deserializer<'de> for Deserializer {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Nil => visitor.visit_unit(),
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::Integer(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(i)) => visitor.visit_i64(i),
                (None, None) => Err(de::Error::custom("integer out of range")),
            },
            Value::F32(f) => visitor.visit_f32(f),
            Value::F64(f) => visitor.visit_f64(f),
            Value::String(s) => {
                if s.is_str() {
                    visitor.visit_string(s.into_str().unwrap_or_default())
                } else {
                    visitor.visit_byte_buf(s.into_bytes())
                }
            }
            Value::Binary(b) => visitor.visit_byte_buf(b),
            Value::Array(items) => visit_array(items, visitor),
            Value::Map(entries) => visit_map(entries, visitor),
            Value::Ext(..) => Err(de::Error::custom(
                "a msgpack extension value has no serde form",
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Nil => visitor.visit_none(),
            value => visitor.visit_some(Self(value)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let (variant, content) = match self.0 {
            Value::String(name) => (Value::String(name), None),
            Value::Map(entries) if entries.len() == 1 => {
                let mut entries = entries;
                let (name, content) = entries.swap_remove(0);
                (name, Some(content))
            }
            _ => {
                return Err(de::Error::custom(
                    "an enum is a variant name or a map of one entry",
                ));
            }
        };
        visitor.visit_enum(Enum { variant, content })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

fn visit_array<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value> {
    let len = items.len();
    let mut seq = Seq(items.into_iter());
    let out = visitor.visit_seq(&mut seq)?;
    if seq.0.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements in array"))
    }
}

fn visit_map<'de, V: Visitor<'de>>(entries: Vec<(Value, Value)>, visitor: V) -> Result<V::Value> {
    let len = entries.len();
    let mut map = Map {
        entries: entries.into_iter(),
        value: None,
    };
    let out = visitor.visit_map(&mut map)?;
    if map.entries.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer entries in map"))
    }
}

struct Seq(std::vec::IntoIter<Value>);

impl<'de> de::SeqAccess<'de> for Seq {
    type Error = ValueError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>> {
        self.0
            .next()
            .map(|v| seed.deserialize(Deserializer(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map {
    entries: std::vec::IntoIter<(Value, Value)>,
    value: Option<Value>,
}

impl<'de> de::MapAccess<'de> for Map {
    type Error = ValueError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(Deserializer(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("map value requested before its key"))?;
        seed.deserialize(Deserializer(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct Enum {
    variant: Value,
    content: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for Enum {
    type Error = ValueError;
    type Variant = Variant;

    fn variant_seed<V: de::DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Variant)> {
        let name = seed.deserialize(Deserializer(self.variant))?;
        Ok((name, Variant(self.content)))
    }
}

struct Variant(Option<Value>);

impl<'de> de::VariantAccess<'de> for Variant {
    type Error = ValueError;

    fn unit_variant(self) -> Result<()> {
        match self.0 {
            None | Some(Value::Nil) => Ok(()),
            Some(_) => Err(de::Error::custom("unit variant with content")),
        }
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(Deserializer(self.0.unwrap_or(Value::Nil)))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        match self.0 {
            Some(Value::Array(items)) => visit_array(items, visitor),
            _ => Err(de::Error::custom("tuple variant without an array")),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.0 {
            Some(Value::Map(entries)) => visit_map(entries, visitor),
            _ => Err(de::Error::custom("struct variant without a map")),
        }
    }
}
