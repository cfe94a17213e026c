//! The free-text fields of an item, read through serde as the item
//! serialises itself, without building JSON: the text policy runs on every
//! item of a dataset, and 100,000 items turned into JSON maps cost a third
//! of a second where this costs milliseconds.

use std::fmt;

use serde::ser::{self, Impossible, Serialize, SerializeStruct};

use super::item::Kind;

/// Calls `f` with the name and value of each free-text field of `item`
/// that holds text ([`super::Field::is_text`]), in the order of the kind's
/// fields.
pub fn each_text<K: Kind>(item: &K, f: &mut dyn FnMut(&'static str, &str)) {
    visit(item, false, f);
}

/// Calls `f` with the name and value of every field of `item` that holds
/// a string: text, keys, references, dates and words alike.
pub fn each_string<K: Kind>(item: &K, f: &mut dyn FnMut(&'static str, &str)) {
    visit(item, true, f);
}

fn visit<K: Kind>(item: &K, all: bool, f: &mut dyn FnMut(&'static str, &str)) {
    // A kind that is not a struct, or a text field that is not a string,
    // has no text to give: nothing is called for it.
    let _ = item.serialize(Item::<K> {
        f,
        all,
        kind: std::marker::PhantomData,
    });
}

struct Item<'f, K> {
    f: &'f mut dyn FnMut(&'static str, &str),
    /// Every string field, not only free text.
    all: bool,
    kind: std::marker::PhantomData<K>,
}

impl<K: Kind> SerializeStruct for Item<'_, K> {
    type Ok = ();
    type Error = fmt::Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), fmt::Error> {
        if self.all || K::FIELDS.iter().any(|x| x.name == name && x.is_text()) {
            // A value that is not text is no text: skipped, not an error.
            let _ = value.serialize(Text {
                name,
                f: &mut *self.f,
            });
        }
        Ok(())
    }

    fn end(self) -> Result<(), fmt::Error> {
        Ok(())
    }
}

/// Refuses what is not a string (or an optional string) by `fmt::Error`.
macro_rules! not_text {
    ($($method:ident($($t:ty),*);)*) => {
        $(fn $method(self, $(_: $t),*) -> Result<(), fmt::Error> { Err(fmt::Error) })*
    };
}

/// What is not a struct of fields is not an item.
macro_rules! no_compound {
    () => {
        type SerializeSeq = Impossible<(), fmt::Error>;
        type SerializeTuple = Impossible<(), fmt::Error>;
        type SerializeTupleStruct = Impossible<(), fmt::Error>;
        type SerializeTupleVariant = Impossible<(), fmt::Error>;
        type SerializeMap = Impossible<(), fmt::Error>;
        type SerializeStructVariant = Impossible<(), fmt::Error>;

        not_text! {
            serialize_bool(bool); serialize_i8(i8); serialize_i16(i16);
            serialize_i32(i32); serialize_i64(i64); serialize_u8(u8);
            serialize_u16(u16); serialize_u32(u32); serialize_u64(u64);
            serialize_f32(f32); serialize_f64(f64); serialize_char(char);
            serialize_bytes(&[u8]); serialize_unit();
            serialize_unit_struct(&'static str);
        }

        fn serialize_none(self) -> Result<(), fmt::Error> {
            Err(fmt::Error)
        }

        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), fmt::Error> {
            Err(fmt::Error)
        }

        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, fmt::Error> {
            Err(fmt::Error)
        }

        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, fmt::Error> {
            Err(fmt::Error)
        }

        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, fmt::Error> {
            Err(fmt::Error)
        }

        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, fmt::Error> {
            Err(fmt::Error)
        }

        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, fmt::Error> {
            Err(fmt::Error)
        }

        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, fmt::Error> {
            Err(fmt::Error)
        }
    };
}

impl<'f, K: Kind> ser::Serializer for Item<'f, K> {
    type Ok = ();
    type Error = fmt::Error;
    type SerializeStruct = Self;

    no_compound!();

    fn serialize_str(self, _: &str) -> Result<(), fmt::Error> {
        Err(fmt::Error)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), fmt::Error> {
        Err(fmt::Error)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), fmt::Error> {
        Err(fmt::Error)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), fmt::Error> {
        Err(fmt::Error)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, fmt::Error> {
        Ok(self)
    }
}

/// One field's value: text is handed on.
struct Text<'f> {
    name: &'static str,
    f: &'f mut dyn FnMut(&'static str, &str),
}

impl<'f> ser::Serializer for Text<'f> {
    type Ok = ();
    type Error = fmt::Error;
    type SerializeStruct = Impossible<(), fmt::Error>;

    no_compound!();

    fn serialize_str(self, value: &str) -> Result<(), fmt::Error> {
        (self.f)(self.name, value);
        Ok(())
    }

    /// A word of a closed set, written as a string.
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), fmt::Error> {
        (self.f)(self.name, variant);
        Ok(())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), fmt::Error> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), fmt::Error> {
        value.serialize(self)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, fmt::Error> {
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dataset, Table};

    /// The text fields as serde_json sees them, the slow way.
    fn through_json<K: Kind>(item: &K) -> Vec<(String, String)> {
        let json = serde_json::to_value(item).unwrap();
        K::FIELDS
            .iter()
            .filter(|f| f.is_text())
            .filter_map(|f| match json.get(f.name) {
                Some(serde_json::Value::String(s)) => Some((f.name.to_string(), s.clone())),
                _ => None,
            })
            .collect()
    }

    fn texts<K: Kind>(item: &K) -> Vec<(String, String)> {
        let mut got = Vec::new();
        each_text(item, &mut |name, value| {
            got.push((name.to_string(), value.to_string()))
        });
        got
    }

    fn strings<K: Kind>(item: &K) -> Vec<(String, String)> {
        let mut got = Vec::new();
        each_string(item, &mut |name, value| {
            got.push((name.to_string(), value.to_string()))
        });
        got
    }

    /// Every string field as serde_json sees it, in its order.
    fn strings_through_json<K: Kind>(item: &K) -> Vec<(String, String)> {
        match serde_json::to_value(item).unwrap() {
            serde_json::Value::Object(m) => m
                .into_iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k, s)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn every_text_field_of_every_kind_is_given_as_serde_json_shows_it() {
        let ds: Dataset = crate::demo::beslan().parse().unwrap();
        let mut seen = 0;
        for &table in Table::ALL {
            crate::model::item::with_kind!(table, K => {
                for item in K::of(&ds) {
                    let want = through_json(item);
                    seen += want.len();
                    assert_eq!(texts(item), want, "{table}/{}", item.key());
                    assert_eq!(strings(item), strings_through_json(item), "{table}/{}", item.key());
                }
            });
        }
        assert!(seen > 100, "the demo has text in every kind: {seen}");
    }
}
