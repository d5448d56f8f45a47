//! FHIR JSON shape rules for one property: arrays where the base cardinality is many and
//! single values elsewhere, no empty arrays or nulls, and `_name` companions that line up with
//! their values: [`Run::collect_items`].

use serde_json::Value as Json;

use crate::outcome::{IssueType, Severity};
use crate::structure::ElementDefinition;
use crate::validator::{Found, Item, Run, describe_json_kind, push_index};

impl Run<'_> {
    /// Turns a property's value and `_name` companion into items, reporting JSON shape
    /// problems: arrays where one value is expected and the reverse, empty arrays, nulls, and
    /// companions that do not line up with their values.
    pub(crate) fn collect_items<'j>(
        &mut self,
        element: &ElementDefinition,
        found: Found<'j>,
        path: &str,
    ) -> Vec<Item<'j>> {
        let as_list = |json: Option<&'j Json>| -> Vec<Option<&'j Json>> {
            match json {
                None => Vec::new(),
                Some(Json::Array(items)) => items
                    .iter()
                    .map(|item| (!item.is_null()).then_some(item))
                    .collect(),
                Some(Json::Null) => vec![None],
                Some(other) => vec![Some(other)],
            }
        };
        for json in [found.value, found.companion].into_iter().flatten() {
            match json {
                Json::Array(items) if items.is_empty() => self.report(
                    Severity::Error,
                    IssueType::Structure,
                    path,
                    "Array cannot be empty - the property should not be present if it has no \
                     values"
                        .to_owned(),
                ),
                Json::Array(_) if !element.is_array => self.report(
                    Severity::Error,
                    IssueType::Structure,
                    path,
                    "This property must be a single value, not an array".to_owned(),
                ),
                Json::Array(_) => {}
                other if element.is_array => self.report(
                    Severity::Error,
                    IssueType::Structure,
                    path,
                    format!(
                        "This property must be an Array, not {}",
                        describe_json_kind(other)
                    ),
                ),
                _ => {}
            }
        }
        let values = as_list(found.value);
        let companions = as_list(found.companion);
        if found.value.is_some() && found.companion.is_some() && values.len() != companions.len() {
            self.report(
                Severity::Error,
                IssueType::Structure,
                path,
                format!(
                    "The property and its '_{}' companion have different numbers of values",
                    element.name
                ),
            );
        }
        let indexed =
            found.value.is_some_and(Json::is_array) || found.companion.is_some_and(Json::is_array);
        let count = values.len().max(companions.len());
        let mut items = Vec::with_capacity(count);
        for index in 0..count {
            let value = values.get(index).copied().flatten();
            let companion = companions.get(index).copied().flatten();
            if value.is_none() && companion.is_none() {
                let mut item_path = path.to_owned();
                push_index(&mut item_path, indexed.then_some(index));
                self.report(
                    Severity::Error,
                    IssueType::Structure,
                    &item_path,
                    "Null values are not allowed here".to_owned(),
                );
                continue;
            }
            items.push(Item {
                value,
                companion,
                index: indexed.then_some(index),
            });
        }
        items
    }
}
