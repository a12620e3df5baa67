//! Column meaning in Arrow field metadata, as Spark's ML attributes.
//!
//! A StringIndexer output column is marked [`Attribute::Nominal`] with its number of categories
//! and their labels; VectorAssembler gathers the attributes of its inputs into one list stored on
//! the features field, one entry per slot. Tree learners read [`categorical_slots`] to split
//! nominal slots on subsets of categories, so nothing else has to be told which slots are
//! categorical.
//!
//! ```
//! use arrow::datatypes::{DataType, Field};
//! use ml_core::attributes::{Attribute, attribute_of, with_attribute};
//!
//! let field = with_attribute(
//!     Field::new("grade_idx", DataType::Float64, true),
//!     &Attribute::nominal("grade_idx", vec!["B".into(), "A".into(), "C".into()]),
//! );
//! assert_eq!(attribute_of(&field).unwrap().num_categories(), Some(3));
//! ```

use std::collections::HashMap;

use arrow::datatypes::Field;
use serde::{Deserialize, Serialize};

/// Metadata key holding a scalar column's attribute (JSON).
pub const ATTRIBUTE_KEY: &str = "ml.attribute";
/// Metadata key holding a vector column's per-slot attributes (JSON array).
pub const VECTOR_ATTRIBUTES_KEY: &str = "ml.vector_attributes";

/// What one column, or one slot of a vector column, means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Attribute {
    /// A continuous value.
    Numeric {
        /// Source column or slot name.
        name: Option<String>,
    },
    /// A category code in `0..num_values` (as a float, Spark's convention).
    Nominal {
        /// Source column or slot name.
        name: Option<String>,
        /// Number of categories, including an extra "unseen" bucket when one was added.
        num_values: usize,
        /// Category labels by code, when known.
        values: Option<Vec<String>>,
    },
    /// A 0/1 indicator (one slot of a one-hot encoding).
    Binary {
        /// Source column or slot name.
        name: Option<String>,
    },
}

impl Attribute {
    /// A numeric attribute with a name.
    pub fn numeric(name: impl Into<String>) -> Self {
        Attribute::Numeric {
            name: Some(name.into()),
        }
    }

    /// A nominal attribute with labels; the number of categories is the number of labels.
    pub fn nominal(name: impl Into<String>, values: Vec<String>) -> Self {
        Attribute::Nominal {
            name: Some(name.into()),
            num_values: values.len(),
            values: Some(values),
        }
    }

    /// The attribute's name, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Attribute::Numeric { name } | Attribute::Binary { name } => name.as_deref(),
            Attribute::Nominal { name, .. } => name.as_deref(),
        }
    }

    /// The same attribute under another name.
    pub fn renamed(&self, new_name: impl Into<String>) -> Self {
        let mut a = self.clone();
        match &mut a {
            Attribute::Numeric { name } | Attribute::Binary { name } => {
                *name = Some(new_name.into())
            }
            Attribute::Nominal { name, .. } => *name = Some(new_name.into()),
        }
        a
    }

    /// Number of categories for a nominal attribute.
    pub fn num_categories(&self) -> Option<usize> {
        match self {
            Attribute::Nominal { num_values, .. } => Some(*num_values),
            _ => None,
        }
    }
}

/// The attribute stored on a scalar column's field, if any.
pub fn attribute_of(field: &Field) -> Option<Attribute> {
    field
        .metadata()
        .get(ATTRIBUTE_KEY)
        .and_then(|s| serde_json::from_str(s).ok())
}

/// The field with the attribute stored in its metadata (other metadata kept).
pub fn with_attribute(field: Field, attr: &Attribute) -> Field {
    let mut md: HashMap<String, String> = field.metadata().clone();
    md.insert(
        ATTRIBUTE_KEY.to_string(),
        serde_json::to_string(attr).unwrap_or_default(),
    );
    field.with_metadata(md)
}

/// The per-slot attributes stored on a vector column's field, if any.
pub fn vector_attributes(field: &Field) -> Option<Vec<Attribute>> {
    field
        .metadata()
        .get(VECTOR_ATTRIBUTES_KEY)
        .and_then(|s| serde_json::from_str(s).ok())
}

/// The field with per-slot attributes stored in its metadata (other metadata kept).
pub fn with_vector_attributes(field: Field, attrs: &[Attribute]) -> Field {
    let mut md: HashMap<String, String> = field.metadata().clone();
    md.insert(
        VECTOR_ATTRIBUTES_KEY.to_string(),
        serde_json::to_string(attrs).unwrap_or_default(),
    );
    field.with_metadata(md)
}

/// The nominal slots of a vector column: `(slot index, number of categories)`, in slot order.
pub fn categorical_slots(field: &Field) -> Vec<(usize, usize)> {
    vector_attributes(field)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.num_categories().map(|n| (i, n)))
        .collect()
}

/// Slot names of a vector column (the attribute name, or `slot_<i>` when it has none).
pub fn slot_names(field: &Field, width: usize) -> Vec<String> {
    let attrs = vector_attributes(field).unwrap_or_default();
    (0..width)
        .map(|i| {
            attrs
                .get(i)
                .and_then(|a| a.name().map(str::to_string))
                .unwrap_or_else(|| format!("slot_{i}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::DataType;

    #[test]
    fn vector_attributes_round_trip_and_categorical_slots() {
        let attrs = vec![
            Attribute::numeric("x"),
            Attribute::nominal("c", vec!["a".into(), "b".into()]),
            Attribute::Binary { name: None },
        ];
        let f = with_vector_attributes(Field::new("features", DataType::Float64, true), &attrs);
        assert_eq!(vector_attributes(&f).unwrap(), attrs);
        assert_eq!(categorical_slots(&f), vec![(1, 2)]);
        assert_eq!(slot_names(&f, 3), vec!["x", "c", "slot_2"]);
    }
}
