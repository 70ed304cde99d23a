//! Hand-built bodies for what kubectl's typed commands do not exercise: times, embedded JSON, inlined structs,
//! pointer zeros, nested objects, and the errors.

mod wire;

use serde_json::json;
use skiff_protobuf::{decode, DecodeError};
use wire::{body, bytes, envelope, int, map_entry, message, string};

/// 2023-11-14T22:13:20Z
const T: i64 = 1_700_000_000;

#[test]
fn pod_with_times_managed_fields_inlined_structs_and_pointer_zeros() {
    let pb = body(
        "v1",
        "Pod",
        &[
            message(
                1,
                &[
                    string(1, "p"),
                    string(2, ""),
                    string(3, "default"),
                    int(7, 0), // generation: non-pointer, omitempty -> omitted
                    message(8, &[int(1, T)]), // creationTimestamp
                    int(10, 0), // deletionGracePeriodSeconds: *int64 -> kept
                    map_entry(11, "b", "2"),
                    map_entry(11, "a", "1"),
                    message(
                        17,
                        &[
                            string(1, "kubectl"),
                            string(2, "Update"),
                            string(3, "v1"),
                            message(4, &[int(1, T), int(2, 999_999_999)]),
                            string(6, "FieldsV1"),
                            message(7, &[bytes(1, br#"{"f:metadata":{"f:labels":{}}}"#)]),
                        ],
                    ),
                ],
            ),
            message(
                2,
                &[
                    // volumes[0]: Volume.volumeSource is inlined
                    message(
                        1,
                        &[
                            string(1, "data"),
                            message(2, &[message(2, &[string(1, "")])]),
                        ],
                    ),
                    // containers[0] with a liveness probe; Probe.handler is inlined
                    message(
                        2,
                        &[
                            string(1, "c"),
                            string(2, "busybox"),
                            message(
                                10,
                                &[
                                    message(
                                        1,
                                        &[message(
                                            2,
                                            &[
                                                string(1, "/healthz"),
                                                message(2, &[int(1, 0), int(2, 8080)]),
                                            ],
                                        )],
                                    ),
                                    int(4, 0),
                                ],
                            ),
                            int(16, 0), // stdin: false, omitempty -> omitted
                        ],
                    ),
                    int(4, 0),  // terminationGracePeriodSeconds: *int64 -> kept
                    int(11, 0), // hostNetwork: false, omitempty -> omitted
                    int(21, 0), // automountServiceAccountToken: *bool false -> kept
                ],
            ),
        ],
    );
    let got = decode(&pb).unwrap();
    assert_eq!(
        got,
        json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": "p",
                "namespace": "default",
                "creationTimestamp": "2023-11-14T22:13:20Z",
                "deletionGracePeriodSeconds": 0,
                "labels": {"a": "1", "b": "2"},
                "managedFields": [{
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2023-11-14T22:13:20Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {}}}
                }]
            },
            "spec": {
                "volumes": [{"name": "data", "emptyDir": {}}],
                "containers": [{
                    "name": "c",
                    "image": "busybox",
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}
                }],
                "terminationGracePeriodSeconds": 0,
                "automountServiceAccountToken": false
            }
        })
    );
    // Go sorts map keys and writes TypeMeta first.
    let text = got.to_string();
    assert!(
        text.starts_with(r#"{"kind":"Pod","apiVersion":"v1","#),
        "{text}"
    );
    assert!(text.contains(r#""labels":{"a":"1","b":"2"}"#), "{text}");
}

#[test]
fn secret_bytes_are_base64_and_pointer_false_is_kept() {
    let pb = body(
        "v1",
        "Secret",
        &[
            message(1, &[string(1, "s")]),
            int(5, 0), // immutable: *bool
            message(2, &[string(1, "bin"), bytes(2, &[0xff, 0x00])]),
            message(2, &[string(1, "empty"), bytes(2, b"")]),
            map_entry(4, "plain", "text"),
            string(3, "Opaque"),
        ],
    );
    assert_eq!(
        decode(&pb).unwrap(),
        json!({
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "s"},
            "immutable": false,
            "data": {"bin": "/wA=", "empty": ""},
            "stringData": {"plain": "text"},
            "type": "Opaque"
        })
    );
}

#[test]
fn event_micro_time_and_zero_times() {
    let pb = body(
        "v1",
        "Event",
        &[
            message(1, &[string(1, "e")]),
            string(3, "Scheduled"),
            message(6, &[]), // firstTimestamp: zero Time -> null
            int(8, 0),       // count: omitempty -> omitted
            message(10, &[int(1, T), int(2, 123_456_789)]),
        ],
    );
    assert_eq!(
        decode(&pb).unwrap(),
        json!({
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": "e"},
            "reason": "Scheduled",
            "firstTimestamp": null,
            "eventTime": "2023-11-14T22:13:20.123456Z"
        })
    );
}

#[test]
fn lease_keeps_an_empty_holder_identity() {
    let pb = body(
        "coordination.k8s.io/v1",
        "Lease",
        &[
            message(1, &[string(1, "node-1"), string(3, "kube-node-lease")]),
            message(2, &[string(1, ""), int(2, 40), message(4, &[int(1, T)])]),
        ],
    );
    assert_eq!(
        decode(&pb).unwrap(),
        json!({
            "kind": "Lease",
            "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "", "leaseDurationSeconds": 40, "renewTime": "2023-11-14T22:13:20.000000Z"}
        })
    );
}

#[test]
fn delete_options_in_any_group_version() {
    for api_version in ["v1", "meta.k8s.io/v1", "apps/v1"] {
        let pb = body(
            api_version,
            "DeleteOptions",
            &[int(1, 0), string(4, "Background"), string(5, "All")],
        );
        assert_eq!(
            decode(&pb).unwrap(),
            json!({
                "kind": "DeleteOptions",
                "apiVersion": api_version,
                "gracePeriodSeconds": 0,
                "propagationPolicy": "Background",
                "dryRun": ["All"]
            })
        );
    }
}

#[test]
fn scale_with_zero_replicas_is_an_empty_spec_as_in_go() {
    let pb = body(
        "autoscaling/v1",
        "Scale",
        &[message(1, &[string(1, "web")]), message(2, &[int(1, 0)])],
    );
    let got = decode(&pb).unwrap();
    assert_eq!(got["spec"], json!({}));
}

#[test]
fn raw_extension_holds_json_or_a_nested_protobuf_object() {
    let revision = |data: Vec<u8>| {
        body(
            "apps/v1",
            "ControllerRevision",
            &[message(1, &[string(1, "r")]), data, int(3, 2)],
        )
    };

    let got = decode(&revision(message(
        2,
        &[bytes(1, br#"{"spec":{"replicas":1}}"#)],
    )))
    .unwrap();
    assert_eq!(got["data"], json!({"spec": {"replicas": 1}}));
    assert_eq!(got["revision"], 2);

    let nested = body(
        "v1",
        "ConfigMap",
        &[message(1, &[string(1, "cm")]), map_entry(2, "k", "v")],
    );
    let got = decode(&revision(message(2, &[bytes(1, &nested)]))).unwrap();
    assert_eq!(
        got["data"],
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cm"}, "data": {"k": "v"}})
    );

    let err = decode(&revision(message(2, &[bytes(1, b"not json")]))).unwrap_err();
    assert!(
        matches!(&err, DecodeError::InvalidValue { path, .. } if path == "data"),
        "{err}"
    );
}

#[test]
fn deeply_embedded_objects_are_refused() {
    let mut pb = body("v1", "ConfigMap", &[message(1, &[string(1, "cm")])]);
    for _ in 0..10 {
        pb = body(
            "apps/v1",
            "ControllerRevision",
            &[message(2, &[bytes(1, &pb)])],
        );
    }
    assert!(matches!(decode(&pb), Err(DecodeError::TooDeep)));
}

#[test]
fn custom_resource_definition_schema_unions_and_renamed_fields() {
    let props = |parts: &[Vec<u8>]| parts.concat();
    let schema = props(&[
        string(5, "object"),
        // properties: {"spec": {type: object, x-kubernetes-preserve-unknown-fields: true}}
        message(
            29,
            &[
                string(1, "spec"),
                message(2, &[string(5, "object"), int(38, 1)]),
            ],
        ),
        // properties: {"tags": {type: array, items: {type: string}}}
        message(
            29,
            &[
                string(1, "tags"),
                message(
                    2,
                    &[
                        string(5, "array"),
                        message(24, &[message(1, &[string(5, "string")])]),
                    ],
                ),
            ],
        ),
        // additionalProperties: false
        message(30, &[int(1, 0)]),
        // default: {"a":1}
        message(8, &[bytes(1, br#"{"a":1}"#)]),
        // $ref
        string(3, "#/definitions/x"),
    ]);
    let crd = body(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        &[
            message(1, &[string(1, "widgets.example.com")]),
            message(
                2,
                &[
                    string(1, "example.com"),
                    string(4, "Namespaced"),
                    message(
                        7,
                        &[
                            string(1, "v1"),
                            int(2, 1),
                            int(3, 1),
                            message(4, &[bytes(1, &schema)]),
                        ],
                    ),
                ],
            ),
        ],
    );
    let got = decode(&crd).unwrap();
    assert_eq!(
        got["spec"]["versions"][0],
        json!({
            "name": "v1",
            "served": true,
            "storage": true,
            "schema": {"openAPIV3Schema": {
                "$ref": "#/definitions/x",
                "type": "object",
                "default": {"a": 1},
                "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "tags": {"type": "array", "items": {"type": "string"}}
                },
                "additionalProperties": false
            }}
        })
    );
}

#[test]
fn envelope_with_json_content_type() {
    let pb = envelope(
        "v1",
        "ConfigMap",
        br#"{"metadata":{"name":"cm"}}"#,
        "",
        "application/json",
    );
    assert_eq!(
        decode(&pb).unwrap(),
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cm"}})
    );
}

#[test]
fn errors_name_what_is_wrong() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"k8s".to_vec(), "does not start with the Kubernetes magic number"),
        (b"k8s\0\xff".to_vec(), "invalid protobuf envelope"),
        (body("", "Pod", &[]), "protobuf envelope has no apiVersion"),
        (body("v1", "", &[]), "protobuf envelope has no kind"),
        (body("v1", "Widget", &[]), "no protobuf schema for kind \"Widget\" in apiVersion \"v1\""),
        (body("example.com/v1", "Widget", &[]), "no protobuf schema for kind \"Widget\""),
        (envelope("v1", "Pod", b"", "gzip", ""), "unsupported protobuf contentEncoding \"gzip\""),
        (envelope("v1", "Pod", b"", "", "application/yaml"), "unsupported protobuf contentType"),
        (body("v1", "Pod", &[vec![0x0a, 0x05, 0x01]]), "invalid protobuf for Pod"),
        // metadata.name with a varint wire type
        (body("v1", "Pod", &[message(1, &[int(1, 5)])]), "invalid protobuf for Pod"),
        (
            body("v1", "Pod", &[message(1, &[message(8, &[int(1, i64::MAX)])])]),
            "invalid value at metadata.creationTimestamp: time out of range",
        ),
        (
            body("v1", "Pod", &[message(1, &[message(8, &[int(1, 300_000_000_000)])])]),
            "invalid value at metadata.creationTimestamp: year 11476 outside of range [0,9999]",
        ),
        (
            body(
                "v1",
                "Pod",
                &[message(
                    2,
                    &[message(2, &[message(10, &[message(1, &[message(2, &[message(2, &[int(1, 7)])])])])])],
                )],
            ),
            "invalid value at spec.containers[0].livenessProbe.httpGet.port: IntOrString has unknown type 7",
        ),
        (
            body("v1", "ConfigMap", &[message(1, &[message(17, &[message(7, &[bytes(1, b"{")])])])]),
            "invalid value at metadata.managedFields[0].fieldsV1: embedded object is not JSON",
        ),
    ];
    for (pb, want) in cases {
        let err = decode(&pb).expect_err(want);
        assert!(
            err.to_string().contains(want),
            "got {err:?} ({err}), want {want}"
        );
    }
}
