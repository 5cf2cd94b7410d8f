//! Property tests: for generated commands and responses, encoding then
//! decoding is the identity, in one piece and through the streaming decoders.

use bytes::Bytes;
use columba_imap_proto::*;
use proptest::collection::vec;
use proptest::prelude::*;

fn bytes_any() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ._-]{0,12}".prop_map(|s| Bytes::from(s.into_bytes())),
        2 => vec(any::<u8>(), 0..16).prop_map(Bytes::from),
        1 => "[\\\\\"()%*{}\\[\\] ]{0,6}".prop_map(|s| Bytes::from(s.into_bytes())),
        1 => (1100usize..1300).prop_map(|n| Bytes::from(vec![b'q'; n])),
    ]
}

fn text() -> impl Strategy<Value = Bytes> {
    "([a-zA-Z0-9][a-zA-Z0-9 .,:;!?()\\]\\[]{0,20})?".prop_map(|s| Bytes::from(s.into_bytes()))
}

fn atom() -> impl Strategy<Value = Atom> {
    "[A-Za-z0-9=$._+-]{1,10}".prop_map(|s| Atom::new(Bytes::from(s.into_bytes())).unwrap())
}

fn x_atom() -> impl Strategy<Value = Atom> {
    "X[A-Za-z0-9-]{0,8}".prop_map(|s| Atom::new(Bytes::from(s.into_bytes())).unwrap())
}

fn tag() -> impl Strategy<Value = Tag> {
    "[A-Za-z0-9.]{1,8}".prop_map(|s| Tag::new(Bytes::from(s.into_bytes())).unwrap())
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    prop_oneof![
        Just(Mailbox::Inbox),
        bytes_any().prop_map(Mailbox::from_wire),
        "\\PC{0,8}".prop_map(|s| Mailbox::from_utf8(&s)),
    ]
}

fn nz() -> impl Strategy<Value = u32> {
    1u32..=u32::MAX
}

fn n64() -> impl Strategy<Value = u64> {
    0u64..(1 << 63)
}

fn seq_set() -> impl Strategy<Value = SequenceSet> {
    let num = prop_oneof![nz().prop_map(SeqNumber::Value), Just(SeqNumber::Largest)];
    let range =
        (num.clone(), proptest::option::of(num)).prop_map(|(start, end)| SeqRange { start, end });
    prop_oneof![
        9 => vec(range, 1..4).prop_map(SequenceSet::Ranges),
        1 => Just(SequenceSet::Saved),
    ]
}

fn flag() -> impl Strategy<Value = Flag> {
    prop_oneof![
        Just(Flag::Answered),
        Just(Flag::Flagged),
        Just(Flag::Deleted),
        Just(Flag::Seen),
        Just(Flag::Draft),
        Just(Flag::Recent),
        Just(Flag::Wildcard),
        atom().prop_map(Flag::Keyword),
        x_atom().prop_map(Flag::Extension),
    ]
}

fn date() -> impl Strategy<Value = Date> {
    (0u16..10000, 1u8..=12, 1u8..=31).prop_map(|(year, month, day)| Date { year, month, day })
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (date(), 0u8..24, 0u8..60, 0u8..=60, -5999i16..=5999).prop_map(
        |(date, hour, minute, second, zone_minutes)| DateTime {
            date,
            hour,
            minute,
            second,
            zone_minutes,
        },
    )
}

fn search_key() -> impl Strategy<Value = SearchKey> {
    let leaf = prop_oneof![
        Just(SearchKey::All),
        Just(SearchKey::Answered),
        Just(SearchKey::Deleted),
        Just(SearchKey::Draft),
        Just(SearchKey::Flagged),
        Just(SearchKey::New),
        Just(SearchKey::Old),
        Just(SearchKey::Recent),
        Just(SearchKey::Seen),
        Just(SearchKey::Unanswered),
        Just(SearchKey::Undeleted),
        Just(SearchKey::Undraft),
        Just(SearchKey::Unflagged),
        Just(SearchKey::Unseen),
        bytes_any().prop_map(SearchKey::Bcc),
        bytes_any().prop_map(SearchKey::Body),
        bytes_any().prop_map(SearchKey::Cc),
        bytes_any().prop_map(SearchKey::From),
        bytes_any().prop_map(SearchKey::Subject),
        bytes_any().prop_map(SearchKey::Text),
        bytes_any().prop_map(SearchKey::To),
        (bytes_any(), bytes_any()).prop_map(|(a, b)| SearchKey::Header(a, b)),
        date().prop_map(SearchKey::Before),
        date().prop_map(SearchKey::On),
        date().prop_map(SearchKey::Since),
        date().prop_map(SearchKey::SentBefore),
        date().prop_map(SearchKey::SentOn),
        date().prop_map(SearchKey::SentSince),
        date().prop_map(SearchKey::SavedBefore),
        date().prop_map(SearchKey::SavedOn),
        date().prop_map(SearchKey::SavedSince),
        Just(SearchKey::SaveDateSupported),
        atom().prop_map(SearchKey::Keyword),
        atom().prop_map(SearchKey::Unkeyword),
        any::<u32>().prop_map(SearchKey::Larger),
        any::<u32>().prop_map(SearchKey::Smaller),
        seq_set().prop_map(SearchKey::Uid),
        seq_set().prop_map(SearchKey::SequenceSet),
        (
            proptest::option::of((
                "/flags/[a-z\\\\]{1,6}".prop_map(|s| Bytes::from(s.into_bytes())),
                prop_oneof![
                    Just(EntryType::Private),
                    Just(EntryType::Shared),
                    Just(EntryType::All)
                ]
            )),
            n64()
        )
            .prop_map(|(entry, modseq)| SearchKey::ModSeq { entry, modseq }),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            vec(inner, 1..3).prop_map(SearchKey::And),
        ]
    })
}

fn section() -> impl Strategy<Value = Section> {
    let names = || vec(bytes_any(), 1..3);
    (
        vec(nz(), 0..3),
        proptest::option::of(prop_oneof![
            Just(SectionText::Header),
            Just(SectionText::Text),
            Just(SectionText::Mime),
            names().prop_map(SectionText::HeaderFields),
            names().prop_map(SectionText::HeaderFieldsNot),
        ]),
    )
        .prop_map(|(part, mut text)| {
            if part.is_empty() && text == Some(SectionText::Mime) {
                text = Some(SectionText::Header);
            }
            Section { part, text }
        })
}

fn partial() -> impl Strategy<Value = Option<(u32, u32)>> {
    proptest::option::of((any::<u32>(), nz()))
}

fn fetch_attribute() -> impl Strategy<Value = FetchAttribute> {
    prop_oneof![
        Just(FetchAttribute::Envelope),
        Just(FetchAttribute::Flags),
        Just(FetchAttribute::InternalDate),
        Just(FetchAttribute::Rfc822),
        Just(FetchAttribute::Rfc822Header),
        Just(FetchAttribute::Rfc822Size),
        Just(FetchAttribute::Rfc822Text),
        Just(FetchAttribute::Body),
        Just(FetchAttribute::BodyStructure),
        Just(FetchAttribute::Uid),
        Just(FetchAttribute::ModSeq),
        Just(FetchAttribute::SaveDate),
        (any::<bool>(), section(), partial()).prop_map(|(peek, section, partial)| {
            FetchAttribute::BodySection {
                peek,
                section,
                partial,
            }
        }),
        (any::<bool>(), vec(nz(), 0..3), partial()).prop_map(|(peek, part, partial)| {
            FetchAttribute::Binary {
                peek,
                part,
                partial,
            }
        }),
        vec(nz(), 0..3).prop_map(|part| FetchAttribute::BinarySize { part }),
    ]
}

fn status_item() -> impl Strategy<Value = StatusItem> {
    prop_oneof![
        Just(StatusItem::Messages),
        Just(StatusItem::Recent),
        Just(StatusItem::UidNext),
        Just(StatusItem::UidValidity),
        Just(StatusItem::Unseen),
        Just(StatusItem::Deleted),
        Just(StatusItem::Size),
        Just(StatusItem::HighestModSeq),
        Just(StatusItem::AppendLimit),
        Just(StatusItem::DeletedStorage),
    ]
}

fn id_params() -> impl Strategy<Value = Option<IdParams>> {
    proptest::option::of(vec((bytes_any(), proptest::option::of(bytes_any())), 0..3))
}

fn command_body() -> impl Strategy<Value = CommandBody> {
    let simple = prop_oneof![
        Just(CommandBody::Capability),
        Just(CommandBody::Noop),
        Just(CommandBody::Logout),
        Just(CommandBody::StartTls),
        Just(CommandBody::Namespace),
        Just(CommandBody::Idle),
        Just(CommandBody::Check),
        Just(CommandBody::Close),
        Just(CommandBody::Unselect),
        Just(CommandBody::Expunge),
        seq_set().prop_map(CommandBody::UidExpunge),
        id_params().prop_map(CommandBody::Id),
        atom().prop_map(|mechanism| CommandBody::Compress { mechanism }),
        bytes_any().prop_map(|root| CommandBody::GetQuota { root }),
        mailbox().prop_map(|mailbox| CommandBody::GetQuotaRoot { mailbox }),
        (bytes_any(), vec((atom(), n64()), 0..3))
            .prop_map(|(root, limits)| CommandBody::SetQuota { root, limits }),
    ];
    let select_param = prop_oneof![
        Just(SelectParam::CondStore),
        (
            nz(),
            n64(),
            proptest::option::of(seq_set()),
            proptest::option::of((seq_set(), seq_set()))
        )
            .prop_map(|(uid_validity, modseq, known_uids, seq_match)| {
                SelectParam::QResync {
                    uid_validity,
                    modseq,
                    known_uids,
                    seq_match,
                }
            }),
    ];
    let mailboxes = prop_oneof![
        (mailbox(), vec(select_param.clone(), 0..2))
            .prop_map(|(mailbox, params)| CommandBody::Select { mailbox, params }),
        (mailbox(), vec(select_param, 0..2))
            .prop_map(|(mailbox, params)| CommandBody::Examine { mailbox, params }),
        (mailbox(), vec(atom(), 0..2)).prop_map(|(mailbox, special_use)| CommandBody::Create {
            mailbox,
            special_use
        }),
        mailbox().prop_map(|mailbox| CommandBody::Delete { mailbox }),
        (mailbox(), mailbox()).prop_map(|(from, to)| CommandBody::Rename { from, to }),
        mailbox().prop_map(|mailbox| CommandBody::Subscribe { mailbox }),
        mailbox().prop_map(|mailbox| CommandBody::Unsubscribe { mailbox }),
        (
            vec(
                prop_oneof![
                    Just(ListSelectOption::Subscribed),
                    Just(ListSelectOption::Remote),
                    Just(ListSelectOption::RecursiveMatch),
                    Just(ListSelectOption::SpecialUse)
                ],
                0..3
            ),
            mailbox(),
            vec(bytes_any(), 1..3),
            vec(
                prop_oneof![
                    Just(ListReturnOption::Subscribed),
                    Just(ListReturnOption::Children),
                    Just(ListReturnOption::SpecialUse),
                    vec(status_item(), 1..3).prop_map(ListReturnOption::Status)
                ],
                0..3
            )
        )
            .prop_map(|(selection, reference, patterns, return_options)| {
                CommandBody::List {
                    selection,
                    reference,
                    patterns,
                    return_options,
                }
            }),
        (mailbox(), bytes_any())
            .prop_map(|(reference, pattern)| CommandBody::Lsub { reference, pattern }),
        (mailbox(), vec(status_item(), 1..4))
            .prop_map(|(mailbox, items)| CommandBody::Status { mailbox, items }),
        (
            mailbox(),
            vec(
                (
                    vec(flag(), 0..3),
                    proptest::option::of(date_time()),
                    vec(any::<u8>(), 0..40),
                    any::<bool>(),
                    any::<bool>()
                )
                    .prop_map(|(flags, date, data, binary, utf8)| AppendMessage {
                        flags,
                        date,
                        binary: !utf8 && (binary || data.contains(&0)),
                        data: Bytes::from(data),
                        utf8,
                    }),
                1..3
            )
        )
            .prop_map(|(mailbox, messages)| CommandBody::Append { mailbox, messages }),
    ];
    let auth = prop_oneof![
        (bytes_any(), bytes_any()).prop_map(|(username, password)| CommandBody::Login {
            username,
            password: Secret(password)
        }),
        (atom(), proptest::option::of("([A-Za-z0-9+/]{1,20}={0,2})?")).prop_map(
            |(mechanism, ir)| CommandBody::Authenticate {
                mechanism,
                initial_response: ir.map(|s| Secret(Bytes::from(s.into_bytes())))
            }
        ),
        vec(atom(), 1..4).prop_map(|capabilities| CommandBody::Enable { capabilities }),
    ];
    let selected =
        prop_oneof![
            (
                any::<bool>(),
                proptest::option::of(vec(
                    prop_oneof![
                        Just(SearchReturnOption::Min),
                        Just(SearchReturnOption::Max),
                        Just(SearchReturnOption::All),
                        Just(SearchReturnOption::Count),
                        Just(SearchReturnOption::Save)
                    ],
                    0..3
                )),
                proptest::option::of(bytes_any()),
                vec(search_key(), 1..3)
            )
                .prop_map(|(uid, return_options, charset, criteria)| {
                    CommandBody::Search {
                        uid,
                        return_options,
                        charset,
                        criteria,
                    }
                }),
            (
                any::<bool>(),
                seq_set(),
                prop_oneof![
                    Just(FetchItems::All),
                    Just(FetchItems::Fast),
                    Just(FetchItems::Full),
                    vec(fetch_attribute(), 1..4).prop_map(FetchItems::Items)
                ],
                vec(
                    prop_oneof![
                        n64().prop_map(FetchModifier::ChangedSince),
                        Just(FetchModifier::Vanished)
                    ],
                    0..2
                )
            )
                .prop_map(|(uid, set, items, modifiers)| CommandBody::Fetch {
                    uid,
                    set,
                    items,
                    modifiers
                }),
            (
                any::<bool>(),
                seq_set(),
                proptest::option::of(n64()),
                prop_oneof![
                    Just(StoreKind::Replace),
                    Just(StoreKind::Add),
                    Just(StoreKind::Remove)
                ],
                any::<bool>(),
                vec(flag(), 0..4)
            )
                .prop_map(|(uid, set, unchanged_since, kind, silent, flags)| {
                    CommandBody::Store {
                        uid,
                        set,
                        unchanged_since,
                        kind,
                        silent,
                        flags,
                    }
                }),
            (any::<bool>(), seq_set(), mailbox())
                .prop_map(|(uid, set, mailbox)| CommandBody::Copy { uid, set, mailbox }),
            (any::<bool>(), seq_set(), mailbox())
                .prop_map(|(uid, set, mailbox)| CommandBody::Move { uid, set, mailbox }),
        ];
    prop_oneof![simple, mailboxes, auth, selected]
}

fn command() -> impl Strategy<Value = Command> {
    (tag(), command_body()).prop_map(|(tag, body)| Command { tag, body })
}

fn response_code() -> impl Strategy<Value = ResponseCode> {
    prop_oneof![
        Just(ResponseCode::Alert),
        // Charset names travel inside a text line: no CR, LF or NUL.
        vec(
            "[A-Za-z0-9 \"\\\\()\u{e9}-]{0,8}".prop_map(|s| Bytes::from(s.into_bytes())),
            0..3
        )
        .prop_map(ResponseCode::BadCharset),
        vec(atom(), 0..4).prop_map(ResponseCode::Capability),
        Just(ResponseCode::Parse),
        vec(flag(), 0..4).prop_map(ResponseCode::PermanentFlags),
        Just(ResponseCode::ReadOnly),
        Just(ResponseCode::ReadWrite),
        Just(ResponseCode::TryCreate),
        nz().prop_map(ResponseCode::UidNext),
        nz().prop_map(ResponseCode::UidValidity),
        nz().prop_map(ResponseCode::Unseen),
        (nz(), seq_set())
            .prop_map(|(uid_validity, uids)| ResponseCode::AppendUid { uid_validity, uids }),
        (nz(), seq_set(), seq_set()).prop_map(|(uid_validity, source, destination)| {
            ResponseCode::CopyUid {
                uid_validity,
                source,
                destination,
            }
        }),
        Just(ResponseCode::UidNotSticky),
        n64().prop_map(ResponseCode::HighestModSeq),
        Just(ResponseCode::NoModSeq),
        seq_set().prop_map(ResponseCode::Modified),
        Just(ResponseCode::Closed),
        Just(ResponseCode::CompressionActive),
        Just(ResponseCode::OverQuota),
        Just(ResponseCode::TooBig),
        Just(ResponseCode::UnknownCte),
        Just(ResponseCode::NotSaved),
        Just(ResponseCode::UseAttr),
        Just(ResponseCode::Simple(SimpleCode::NoPerm)),
        Just(ResponseCode::Simple(SimpleCode::AuthenticationFailed)),
        (x_atom(), proptest::option::of("[a-z0-9 ]{0,10}")).prop_map(|(name, data)| {
            ResponseCode::Other {
                name,
                data: data.map(|d| Bytes::from(d.into_bytes())),
            }
        }),
    ]
}

fn nstring() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(bytes_any())
}

fn address() -> impl Strategy<Value = Address> {
    (nstring(), nstring(), nstring(), nstring()).prop_map(|(name, adl, mailbox, host)| Address {
        name,
        adl,
        mailbox,
        host,
    })
}

fn envelope() -> impl Strategy<Value = Envelope> {
    let list = || vec(address(), 0..3);
    (
        nstring(),
        nstring(),
        list(),
        list(),
        list(),
        list(),
        list(),
        list(),
        nstring(),
        nstring(),
    )
        .prop_map(
            |(date, subject, from, sender, reply_to, to, cc, bcc, in_reply_to, message_id)| {
                Envelope {
                    date,
                    subject,
                    from,
                    sender,
                    reply_to,
                    to,
                    cc,
                    bcc,
                    in_reply_to,
                    message_id,
                }
            },
        )
}

fn params() -> impl Strategy<Value = Vec<(Bytes, Bytes)>> {
    vec((bytes_any(), bytes_any()), 0..3)
}

fn body_extension() -> impl Strategy<Value = BodyExtension> {
    let leaf = prop_oneof![
        nstring().prop_map(BodyExtension::String),
        n64().prop_map(BodyExtension::Number)
    ];
    leaf.prop_recursive(2, 6, 3, |inner| {
        vec(inner, 1..3).prop_map(BodyExtension::List)
    })
}

fn disposition() -> impl Strategy<Value = Option<DispositionExtension>> {
    let location = proptest::option::of((nstring(), vec(body_extension(), 0..3)).prop_map(
        |(location, extensions)| LocationExtension {
            location,
            extensions,
        },
    ));
    let language = proptest::option::of(
        (vec(bytes_any(), 0..3), location)
            .prop_map(|(languages, tail)| LanguageExtension { languages, tail }),
    );
    proptest::option::of(
        (proptest::option::of((bytes_any(), params())), language)
            .prop_map(|(disposition, tail)| DispositionExtension { disposition, tail }),
    )
}

fn body_fields(
    media_type: &'static str,
    subtype: &'static str,
) -> impl Strategy<Value = BodyFields> {
    (params(), nstring(), nstring(), bytes_any(), any::<u32>()).prop_map(
        move |(params, id, description, encoding, octets)| BodyFields {
            media_type: Bytes::from_static(media_type.as_bytes()),
            subtype: Bytes::from_static(subtype.as_bytes()),
            params,
            id,
            description,
            encoding,
            octets,
        },
    )
}

fn single_ext() -> impl Strategy<Value = Option<SinglePartExtension>> {
    proptest::option::of(
        (nstring(), disposition()).prop_map(|(md5, tail)| SinglePartExtension { md5, tail }),
    )
}

fn body() -> impl Strategy<Value = BodyStructure> {
    let leaf = prop_oneof![
        (body_fields("TEXT", "PLAIN"), any::<u32>(), single_ext()).prop_map(
            |(fields, lines, extension)| {
                BodyStructure::Single {
                    fields,
                    specific: SpecificFields::Text { lines },
                    extension,
                }
            }
        ),
        (body_fields("APPLICATION", "PDF"), single_ext()).prop_map(|(fields, extension)| {
            BodyStructure::Single {
                fields,
                specific: SpecificFields::Basic,
                extension,
            }
        }),
    ];
    leaf.prop_recursive(3, 10, 3, |inner| {
        prop_oneof![
            (
                vec(inner.clone(), 1..3),
                bytes_any(),
                proptest::option::of(
                    (params(), disposition())
                        .prop_map(|(params, tail)| MultiPartExtension { params, tail })
                )
            )
                .prop_map(|(parts, subtype, extension)| BodyStructure::Multi {
                    parts,
                    subtype,
                    extension
                }),
            (
                body_fields("MESSAGE", "RFC822"),
                envelope(),
                inner,
                any::<u32>(),
                single_ext()
            )
                .prop_map(|(fields, envelope, body, lines, extension)| {
                    BodyStructure::Single {
                        fields,
                        specific: SpecificFields::Message {
                            envelope: Box::new(envelope),
                            body: Box::new(body),
                            lines,
                        },
                        extension,
                    }
                }),
        ]
    })
}

fn message_item() -> impl Strategy<Value = MessageItem> {
    prop_oneof![
        vec(flag(), 0..4).prop_map(MessageItem::Flags),
        envelope().prop_map(|e| MessageItem::Envelope(Box::new(e))),
        date_time().prop_map(MessageItem::InternalDate),
        nstring().prop_map(MessageItem::Rfc822),
        nstring().prop_map(MessageItem::Rfc822Header),
        nstring().prop_map(MessageItem::Rfc822Text),
        any::<u32>().prop_map(MessageItem::Rfc822Size),
        body().prop_map(|b| MessageItem::Body(Box::new(b))),
        body().prop_map(|b| MessageItem::BodyStructure(Box::new(b))),
        (section(), proptest::option::of(any::<u32>()), nstring()).prop_map(
            |(section, origin, data)| MessageItem::BodySection {
                section,
                origin,
                data
            }
        ),
        (
            vec(nz(), 0..3),
            proptest::option::of(any::<u32>()),
            nstring()
        )
            .prop_map(|(part, origin, data)| MessageItem::Binary { part, origin, data }),
        (vec(nz(), 0..3), any::<u32>())
            .prop_map(|(part, size)| MessageItem::BinarySize { part, size }),
        nz().prop_map(MessageItem::Uid),
        n64().prop_map(MessageItem::ModSeq),
        proptest::option::of(date_time()).prop_map(MessageItem::SaveDate),
    ]
}

fn listing() -> impl Strategy<Value = MailboxListing> {
    let attr = prop_oneof![
        Just(MailboxAttribute::NoInferiors),
        Just(MailboxAttribute::NoSelect),
        Just(MailboxAttribute::HasChildren),
        Just(MailboxAttribute::Subscribed),
        Just(MailboxAttribute::Trash),
        Just(MailboxAttribute::Junk),
        x_atom().prop_map(MailboxAttribute::Extension),
    ];
    (
        vec(attr, 0..3),
        proptest::option::of(prop_oneof![Just(b'/'), Just(b'.'), Just(b'\\'), Just(b'"')]),
        mailbox(),
        vec(
            prop_oneof![
                vec(bytes_any(), 1..3).prop_map(ListExtendedItem::ChildInfo),
                mailbox().prop_map(ListExtendedItem::OldName),
                ("x-[a-z]{1,5}", extension_value()).prop_map(|(tag, value)| {
                    ListExtendedItem::Other {
                        tag: Bytes::from(tag.into_bytes()),
                        value,
                    }
                })
            ],
            0..2,
        ),
    )
        .prop_map(
            |(attributes, delimiter, mailbox, extended)| MailboxListing {
                attributes,
                delimiter,
                mailbox,
                extended,
            },
        )
}

fn extension_value() -> impl Strategy<Value = ExtensionValue> {
    let leaf = prop_oneof![
        bytes_any().prop_map(ExtensionValue::Simple),
        "[0-9:,*]{1,6}".prop_map(|s| ExtensionValue::Simple(Bytes::from(s.into_bytes()))),
    ];
    leaf.prop_recursive(2, 6, 3, |inner| {
        vec(inner, 0..3).prop_map(ExtensionValue::List)
    })
}

fn namespaces() -> impl Strategy<Value = Vec<NamespaceDescription>> {
    vec(
        (
            bytes_any(),
            proptest::option::of(Just(b'/')),
            vec((bytes_any(), vec(bytes_any(), 1..3)), 0..2),
        )
            .prop_map(|(prefix, delimiter, extensions)| NamespaceDescription {
                prefix,
                delimiter,
                extensions,
            }),
        0..3,
    )
}

fn data() -> impl Strategy<Value = Data> {
    let status_value = prop_oneof![
        any::<u32>().prop_map(StatusValue::Messages),
        any::<u32>().prop_map(StatusValue::Recent),
        any::<u32>().prop_map(StatusValue::UidNext),
        any::<u32>().prop_map(StatusValue::UidValidity),
        any::<u32>().prop_map(StatusValue::Unseen),
        any::<u32>().prop_map(StatusValue::Deleted),
        n64().prop_map(StatusValue::Size),
        n64().prop_map(StatusValue::HighestModSeq),
        proptest::option::of(n64()).prop_map(StatusValue::AppendLimit),
        n64().prop_map(StatusValue::DeletedStorage),
    ];
    let esearch_data = prop_oneof![
        nz().prop_map(ESearchData::Min),
        nz().prop_map(ESearchData::Max),
        seq_set().prop_map(ESearchData::All),
        any::<u32>().prop_map(ESearchData::Count),
        n64().prop_map(ESearchData::ModSeq),
    ];
    prop_oneof![
        vec(atom(), 0..4).prop_map(Data::Capability),
        vec(atom(), 0..4).prop_map(Data::Enabled),
        listing().prop_map(Data::List),
        listing().prop_map(Data::Lsub),
        (mailbox(), vec(status_value, 0..4))
            .prop_map(|(mailbox, items)| Data::Status { mailbox, items }),
        (vec(nz(), 0..5), proptest::option::of(n64()))
            .prop_map(|(numbers, modseq)| Data::Search { numbers, modseq }),
        (
            proptest::option::of(tag()),
            any::<bool>(),
            vec(esearch_data, 0..3)
        )
            .prop_map(|(tag, uid, data)| Data::ESearch(ESearch { tag, uid, data })),
        vec(flag(), 0..4).prop_map(Data::Flags),
        any::<u32>().prop_map(Data::Exists),
        any::<u32>().prop_map(Data::Recent),
        any::<u32>().prop_map(Data::Expunge),
        (any::<u32>(), vec(message_item(), 1..4))
            .prop_map(|(seq, items)| Data::Fetch { seq, items }),
        id_params().prop_map(Data::Id),
        (namespaces(), namespaces(), namespaces()).prop_map(|(personal, other, shared)| {
            Data::Namespace {
                personal,
                other,
                shared,
            }
        }),
        (
            bytes_any(),
            vec(
                (atom(), n64(), n64()).prop_map(|(name, usage, limit)| QuotaResource {
                    name,
                    usage,
                    limit
                }),
                1..3
            )
        )
            .prop_map(|(root, resources)| Data::Quota { root, resources }),
        (mailbox(), vec(bytes_any(), 0..3))
            .prop_map(|(mailbox, roots)| Data::QuotaRoot { mailbox, roots }),
        (any::<bool>(), seq_set()).prop_map(|(earlier, uids)| Data::Vanished { earlier, uids }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    let untagged_kind = prop_oneof![
        Just(StatusKind::Ok),
        Just(StatusKind::No),
        Just(StatusKind::Bad),
        Just(StatusKind::PreAuth),
        Just(StatusKind::Bye)
    ];
    let tagged_kind = prop_oneof![
        Just(StatusKind::Ok),
        Just(StatusKind::No),
        Just(StatusKind::Bad)
    ];
    prop_oneof![
        1 => (tagged_kind, tag(), proptest::option::of(response_code()), text()).prop_map(|(kind, tag, code, text)| {
            Response::Status(StatusResponse { tag: Some(tag), kind, code, text })
        }),
        1 => (untagged_kind, proptest::option::of(response_code()), text())
            .prop_map(|(kind, code, text)| Response::Status(StatusResponse { tag: None, kind, code, text })),
        1 => (proptest::option::of(response_code()), text())
            .prop_map(|(code, text)| Response::Continuation(Continuation::Text { code, text })),
        3 => data().prop_map(Response::Data),
    ]
}

/// Runs a property in a thread with a large stack: the generated values
/// nest deeply and debug builds use big frames.
fn run<S: Strategy + 'static>(
    cases: u32,
    strategy: fn() -> S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError> + Send + 'static,
) {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
                cases,
                ..ProptestConfig::default()
            });
            if let Err(e) = runner.run(&strategy(), test) {
                panic!("{e}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn command_round_trip() {
    run(
        2000,
        || (command(), any::<bool>()),
        |(c, nonsync)| {
            let mut wire = Vec::new();
            c.encode_to(
                &mut wire,
                if nonsync {
                    LiteralMode::NonSync
                } else {
                    LiteralMode::Sync
                },
            );
            prop_assert_eq!(&parse_command(&wire)?, &c);
            // Through the streaming decoder, byte by byte.
            let mut dec = CommandDecoder::new(Limits::default());
            let mut got = None;
            for b in &wire {
                dec.feed(std::slice::from_ref(b));
                loop {
                    match dec.decode()? {
                        Decoded::Message(CommandEvent::Command(c)) => got = Some(c),
                        Decoded::Message(other) => prop_assert!(false, "{:?}", other),
                        Decoded::NeedsContinuation { .. } => continue,
                        Decoded::Incomplete => break,
                    }
                }
            }
            prop_assert_eq!(got.as_ref(), Some(&c));
            // Sent in parts, the server asks for each continuation in turn.
            let parts = c.encode_parts();
            let mut dec = CommandDecoder::new(Limits::default());
            for (i, part) in parts.iter().enumerate() {
                dec.feed(part);
                if i + 1 < parts.len() {
                    let asked = matches!(dec.decode()?, Decoded::NeedsContinuation { .. });
                    prop_assert!(asked);
                    prop_assert_eq!(dec.decode()?, Decoded::Incomplete);
                } else {
                    prop_assert_eq!(
                        dec.decode()?,
                        Decoded::Message(CommandEvent::Command(c.clone()))
                    );
                }
            }
            Ok(())
        },
    );
}

#[test]
fn response_round_trip() {
    run(2000, response, |r| {
        let wire = r.encode();
        prop_assert_eq!(&parse_response(&wire)?, &r);
        let mut dec = ResponseDecoder::new(Limits::default());
        dec.expect_greeting(false);
        dec.feed(&wire);
        prop_assert_eq!(dec.decode()?, Decoded::Message(r));
        Ok(())
    });
}

proptest! {
    #[test]
    fn mailbox_names_round_trip(name in "\\PC{0,12}") {
        let m = Mailbox::from_utf8(&name);
        prop_assert!(m.as_wire().iter().all(|&b| (0x20..0x7f).contains(&b)));
        if !name.eq_ignore_ascii_case("INBOX") {
            prop_assert_eq!(m.to_utf8()?, name);
        }
    }

    #[test]
    fn arbitrary_input_never_panics(input in vec(any::<u8>(), 0..200)) {
        let _ = parse_command(&input);
        let _ = parse_response(&input);
        let mut dec = CommandDecoder::new(Limits { max_line: 50, max_literal: 30, max_non_sync_literal: 20, max_message: 100, max_depth: 4 });
        dec.feed(&input);
        for _ in 0..1000 {
            if let Ok(Decoded::Incomplete) = dec.decode() { break; }
        }
        let _ = columba_imap_proto::transcript::trace(&input);
    }
}
