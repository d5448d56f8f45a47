//! Property tests: printing a syntax tree and parsing it back gives the same tree, and
//! arithmetic and comparison obey their laws.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use medulla_fhirpath::syntax::ast::{
    BinaryOperator, Expression, ExpressionKind, Literal, Span, TypeSpecifier,
};
use medulla_fhirpath::{evaluate_to_json, parse};
use proptest::prelude::*;
use serde_json::json;

fn node(kind: ExpressionKind) -> Expression {
    Expression {
        kind,
        span: Span::default(),
    }
}

fn identifier() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        Just("div".to_owned()),
        Just("true".to_owned()),
        Just("contains".to_owned()),
        "[a-z ]{1,4}-[a-z`']{0,3}",
    ]
    .boxed()
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Empty),
        any::<bool>().prop_map(Literal::Boolean),
        any::<String>().prop_map(Literal::String),
        "[0-9]{1,12}".prop_map(Literal::Integer),
        "[0-9]{1,6}\\.[0-9]{1,6}".prop_map(Literal::Decimal),
        prop_oneof![Just("2015"), Just("2015-02"), Just("2015-02-04")]
            .prop_map(|text| Literal::Date(text.to_owned())),
        prop_oneof![
            Just("2015T"),
            Just("2015-02-04T14"),
            Just("2015-02-04T14:34:28.123+10:00"),
            Just("2015-02-04T14:34Z"),
        ]
        .prop_map(|text| Literal::DateTime(text.to_owned())),
        prop_oneof![Just("14"), Just("14:34"), Just("14:34:28.5")]
            .prop_map(|text| Literal::Time(text.to_owned())),
        ("[0-9]{1,4}", "[a-z/\\[\\]']{1,5}").prop_map(|(value, unit)| Literal::Quantity {
            value,
            unit,
            is_calendar_word: false,
        }),
        (
            "[0-9]{1,4}",
            prop_oneof![Just("days"), Just("week"), Just("months")]
        )
            .prop_map(|(value, unit)| Literal::Quantity {
                value,
                unit: unit.to_owned(),
                is_calendar_word: true,
            }),
    ]
}

const OPERATORS: &[BinaryOperator] = &[
    BinaryOperator::Multiply,
    BinaryOperator::Divide,
    BinaryOperator::Div,
    BinaryOperator::Mod,
    BinaryOperator::Add,
    BinaryOperator::Subtract,
    BinaryOperator::Concatenate,
    BinaryOperator::Union,
    BinaryOperator::LessThan,
    BinaryOperator::LessOrEqual,
    BinaryOperator::GreaterThan,
    BinaryOperator::GreaterOrEqual,
    BinaryOperator::Equal,
    BinaryOperator::NotEqual,
    BinaryOperator::Equivalent,
    BinaryOperator::NotEquivalent,
    BinaryOperator::In,
    BinaryOperator::Contains,
    BinaryOperator::And,
    BinaryOperator::Or,
    BinaryOperator::Xor,
    BinaryOperator::Implies,
];

fn expression() -> impl Strategy<Value = Expression> {
    let leaf = prop_oneof![
        literal().prop_map(|l| node(ExpressionKind::Literal(l))),
        identifier().prop_map(|name| node(ExpressionKind::Identifier(name))),
        Just(node(ExpressionKind::This)),
        Just(node(ExpressionKind::Index)),
        Just(node(ExpressionKind::Total)),
        identifier().prop_map(|name| node(ExpressionKind::Variable(name))),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        let function = (identifier(), prop::collection::vec(inner.clone(), 0..3))
            .prop_map(|(name, arguments)| node(ExpressionKind::Function { name, arguments }))
            .boxed();
        let member = prop_oneof![
            identifier().prop_map(|name| node(ExpressionKind::Identifier(name))),
            function.clone(),
        ];
        prop_oneof![
            function,
            (inner.clone(), member).prop_map(|(target, member)| node(ExpressionKind::Invocation {
                target: Box::new(target),
                member: Box::new(member),
            })),
            (inner.clone(), inner.clone()).prop_map(|(target, index)| node(
                ExpressionKind::Indexer {
                    target: Box::new(target),
                    index: Box::new(index),
                }
            )),
            (any::<bool>(), inner.clone()).prop_map(|(negate, operand)| node(
                ExpressionKind::Polarity {
                    negate,
                    operand: Box::new(operand),
                }
            )),
            (
                prop::sample::select(OPERATORS),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(operator, left, right)| node(ExpressionKind::Binary {
                    operator,
                    left: Box::new(left),
                    right: Box::new(right),
                })),
            (
                any::<bool>(),
                inner,
                prop::option::of(prop_oneof![Just("FHIR"), Just("System")]),
                identifier()
            )
                .prop_map(|(is_cast, operand, namespace, name)| node(
                    ExpressionKind::TypeOperation {
                        is_cast,
                        operand: Box::new(operand),
                        type_name: TypeSpecifier {
                            namespace: namespace.map(str::to_owned),
                            name,
                        },
                    }
                )),
        ]
    })
}

proptest! {
    #[test]
    fn printed_trees_parse_back_to_the_same_tree(tree in expression()) {
        let text = tree.to_string();
        let parsed = parse(&text);
        prop_assert!(parsed.is_ok(), "{text}: {parsed:?}");
        let parsed = parsed.unwrap();
        prop_assert_eq!(&parsed, &tree, "{}", text);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn integer_arithmetic_laws(a in -100_000i64..100_000, b in -100_000i64..100_000, c in -1000i64..1000) {
        let holds = |law: String| evaluate_to_json(&law, None, false).unwrap() == json!([true]);
        let mut laws = vec![
            format!("({a}) + ({b}) = ({b}) + ({a})"),
            format!("(({a}) + ({b})) + ({c}) = ({a}) + (({b}) + ({c}))"),
            format!("({c}) * (({a}) + ({b})) = ({c}) * ({a}) + ({c}) * ({b})"),
            format!("({a}) - ({a}) = 0"),
        ];
        if b != 0 {
            laws.push(format!("(({a}) div ({b})) * ({b}) + (({a}) mod ({b})) = ({a})"));
        }
        for law in laws {
            let holds_here = holds(law.clone());
            prop_assert!(holds_here, "{}", law);
        }
    }

    #[test]
    fn comparison_is_a_total_order_on_decimals(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000, scale in 0u32..6) {
        let (x, y) = (rust_decimal::Decimal::new(a, scale), rust_decimal::Decimal::new(b, scale));
        let truths = [
            format!("({x}) < ({y})"),
            format!("({x}) = ({y})"),
            format!("({x}) > ({y})"),
        ]
        .map(|text| evaluate_to_json(&text, None, false).unwrap() == json!([true]));
        prop_assert_eq!(truths.iter().filter(|t| **t).count(), 1);
        prop_assert_eq!(truths[1], x == y);
        let equivalent = evaluate_to_json(&format!("({x}) ~ ({x})"), None, false).unwrap();
        prop_assert_eq!(equivalent, json!([true]));
    }

    #[test]
    fn adding_days_moves_dates_forward(days in 1i64..5000, month in 1u32..13, day in 1u32..29) {
        let date = format!("@2001-{month:02}-{day:02}");
        let later = evaluate_to_json(&format!("{date} + {days} days > {date}"), None, false).unwrap();
        prop_assert_eq!(later, json!([true]));
        let back = evaluate_to_json(&format!("({date} + {days} days) - {days} days = {date}"), None, false).unwrap();
        prop_assert_eq!(back, json!([true]));
    }
}
