//! A reader for internally tagged JSON objects (`{"op": "drain", "cpu": 1}`), field by field.
//!
//! `#[derive(Deserialize)]` with `#[serde(tag = "…")]` buffers the object and then compiles a
//! reader of every variant against the buffer: the two scenario action types (the live one and
//! link version 1's) cost the playground's wasm 54 KB that way. This reader takes the object as a
//! JSON map and hands each field to its type's own `Deserialize`. Its messages are serde's:
//! "missing field `gfp`", "unknown field `colour`, expected one of …", "unknown variant …".

use serde::de::{DeserializeOwned, Error as _, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The fields of one variant of a tagged object, taken one by one.
pub(crate) struct Tagged {
    fields: Map<String, Value>,
}

/// What reading a tagged object can fail with: serde_json's error. serde_json gives it a line
/// and column on its way out, those of the end of the enclosing list (the object has been read
/// whole when it is checked), so [`seq_named`] says which element it is.
pub(crate) type Error = serde_json::Error;

impl Tagged {
    /// Read the object and its tag: `tag` names the tag field, `variants` its allowed values.
    /// Returns the variant, and the rest of the fields.
    pub(crate) fn read<'de, D: serde::Deserializer<'de>>(
        d: D,
        tag: &'static str,
        variants: &'static [&'static str],
    ) -> Result<(&'static str, Map<String, Value>), D::Error> {
        let mut fields = d.deserialize_map(FieldsVisitor)?;
        let name = match fields.remove(tag) {
            Some(Value::String(name)) => name,
            Some(other) => {
                return Err(D::Error::invalid_type(unexpected(&other), &"a variant name"));
            }
            None => return Err(D::Error::missing_field(tag)),
        };
        match variants.iter().find(|&&v| v == name) {
            Some(variant) => Ok((variant, fields)),
            None => Err(D::Error::unknown_variant(&name, variants)),
        }
    }

    /// The fields of a variant whose field names are `expected`; an error for any other
    /// (`deny_unknown_fields`).
    pub(crate) fn new(
        fields: Map<String, Value>,
        expected: &'static [&'static str],
    ) -> Result<Tagged, Error> {
        match fields.keys().find(|k| !expected.contains(&k.as_str())) {
            Some(name) => Err(Error::unknown_field(name, expected)),
            None => Ok(Tagged { fields }),
        }
    }

    /// A field the object must have.
    pub(crate) fn field<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<T, Error> {
        match self.fields.remove(name) {
            Some(v) => T::deserialize(v),
            None => Err(Error::missing_field(name)),
        }
    }

    /// A field that, when absent, is `default()`.
    pub(crate) fn or<T: DeserializeOwned>(
        &mut self,
        name: &'static str,
        default: impl FnOnce() -> T,
    ) -> Result<T, Error> {
        match self.fields.remove(name) {
            Some(v) => T::deserialize(v),
            None => Ok(default()),
        }
    }

    /// An `Option` field: absent or `null` is `None`, as for a derived reader.
    pub(crate) fn opt<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<Option<T>, Error> {
        self.or(name, || None)
    }
}

/// `impl Deserialize` for an internally tagged enum of struct variants, read by [`Tagged`]: the
/// tag field, then each variant with its tag value and its fields, each read as `field`
/// (required), `opt` (an `Option`: absent or `null` is `None`) or `or(default)`.
macro_rules! read_tagged {
    ($ty:ident, $tag:literal, {
        $($variant:ident $name:literal { $($field:ident: $how:ident $(($default:expr))?),* $(,)? }),* $(,)?
    }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error;
                let (variant, fields) = $crate::tagged::Tagged::read(d, $tag, &[$($name),*])?;
                let read = || -> Result<$ty, $crate::tagged::Error> {
                    Ok(match variant {
                        $($name => {
                            #[allow(unused_mut)]
                            let mut f = $crate::tagged::Tagged::new(fields, &[$(stringify!($field)),*])?;
                            $ty::$variant { $($field: f.$how(stringify!($field) $(, $default)?)?),* }
                        })*
                        _ => unreachable!("read() returns one of the variants"),
                    })
                };
                read().map_err(D::Error::custom)
            }
        }
    };
}
pub(crate) use read_tagged;

/// Reads an object into a map, refusing a field given twice as a derived reader does.
struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut fields = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            let value = access.next_value()?;
            if fields.contains_key(&name) {
                return Err(A::Error::custom(format_args!("duplicate field `{name}`")));
            }
            fields.insert(name, value);
        }
        Ok(fields)
    }
}

/// A scenario's `actions` (`#[serde(deserialize_with = "crate::tagged::actions")]`), each error
/// naming the action it is in.
pub(crate) fn actions<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    seq_named(d, "actions")
}

/// A list of tagged objects whose errors say which element they are in: `actions[3]: missing
/// field `gfp``. (An element's error is placed by serde_json at the end of the list, as the
/// element has been read whole when it is checked.)
fn seq_named<'de, D, T>(d: D, name: &'static str) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Elements<T>(&'static str, std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Elements<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            loop {
                match seq.next_element() {
                    Ok(Some(x)) => out.push(x),
                    Ok(None) => return Ok(out),
                    Err(e) => return Err(A::Error::custom(format_args!("{}[{}]: {e}", self.0, out.len()))),
                }
            }
        }
    }
    d.deserialize_seq(Elements(name, std::marker::PhantomData))
}

/// How serde names a JSON value of the wrong type.
fn unexpected(v: &Value) -> serde::de::Unexpected<'_> {
    use serde::de::Unexpected;
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Other("number"),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}
