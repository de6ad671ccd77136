//! [`field_table!`](crate::field_table): a protocol's fields declared once, as data.
//!
//! Wireshark declares a protocol's fields as one `hf_register_info` array and
//! gets the ids back. `field_table!` does the same for pcapx: one line per field
//! yields a plain struct of [`FieldId`](crate::FieldId)s, an all-unset constant
//! for the dissector's constructor, and one `register` function that registers
//! every field in declaration order (the order `pcapx fields` lists them in).
//! Adding a field is one line; there is nothing to keep in step by hand.

/// Declare a protocol's fields once and get their ids back.
///
/// Each entry is `member = (filter name, display name, FieldType variant,
/// description)`, optionally followed by [`FieldDef`](crate::FieldDef) builder
/// calls (`.hex()`, `.alias("sport")`). The macro generates:
///
/// * the struct, one `pub` [`FieldId`](crate::FieldId) member per entry
///   (`Copy`, so reading an id on the hot path is a plain load);
/// * `UNSET` (and `Default`): every id [`FieldId::UNSET`](crate::FieldId::UNSET),
///   which the field store ignores, for the dissector's constructor;
/// * `register(&mut Registrar) -> Result<Self, RegistryError>`, registering the
///   fields in declaration order under the protocol the registrar has open;
/// * `LEN`, the number of fields.
///
/// ```
/// use pcapx_core::{Ctx, Dissector, Outcome, Registrar, RegistryError, Value};
///
/// pcapx_core::field_table! {
///     /// The fields of a toy protocol.
///     pub struct ToyFields {
///         kind = ("toy.kind", "Kind", U8, "Message kind"),
///         port = ("toy.port", "Port", U16, "").alias("toyport"),
///         flags = ("toy.flags", "Flags", U16, "Flag bits").hex(),
///     }
/// }
///
/// #[derive(Default)]
/// struct Toy {
///     f: ToyFields,
/// }
///
/// impl Dissector for Toy {
///     fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
///         r.protocol("toy", "Toy Protocol", "Toy")?;
///         self.f = ToyFields::register(r)?;
///         Ok(())
///     }
///     fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
///         if let Some(&k) = data.first() {
///             cx.add(self.f.kind, Value::U64(u64::from(k)));
///         }
///         Outcome::end(data.len().min(1))
///     }
/// }
///
/// let mut b = pcapx_core::EngineBuilder::new();
/// b.add(Box::new(Toy::default()), "example").unwrap();
/// let engine = b.build().unwrap();
/// let reg = engine.registry();
/// assert_eq!(ToyFields::LEN, 3);
/// assert!(reg.field_by_name("toy.port").is_some());
/// assert_eq!(reg.resolve("toyport").unwrap().fields.len(), 1);
/// ```
#[macro_export]
macro_rules! field_table {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $member:ident = (
                    $fname:expr, $display:expr, $ftype:ident, $desc:expr $(,)?
                ) $(. $method:ident ( $($arg:expr),* ))*
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                #[allow(dead_code)]
                pub $member: $crate::FieldId,
            )*
        }

        #[allow(dead_code)]
        impl $name {
            /// Every id unset: the field store ignores them until `register` runs.
            pub const UNSET: $name = $name { $( $member: $crate::FieldId::UNSET, )* };

            /// The number of fields declared.
            pub const LEN: usize = [$( stringify!($member) ),*].len();

            /// Register every field, in declaration order, under the protocol
            /// `r` has open.
            pub fn register(
                r: &mut $crate::Registrar<'_>,
            ) -> ::core::result::Result<$name, $crate::RegistryError> {
                // Struct-literal fields evaluate in source order: ids follow
                // the declaration.
                ::core::result::Result::Ok($name {
                    $(
                        $member: r.field(
                            $crate::FieldDef::new(
                                $fname,
                                $display,
                                $crate::FieldType::$ftype,
                                $desc,
                            )
                            $( .$method($($arg),*) )*
                        )?,
                    )*
                })
            }
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                Self::UNSET
            }
        }
    };
}
