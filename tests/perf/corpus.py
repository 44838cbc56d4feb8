#!/usr/bin/env python3
"""Deterministic generator of synthetic but realistic statements, for the benchmarks.

A port into the project of the reference generator `make_corpus.py` (shared reference
data, not shipped): same algorithm, same records, plus three fields the loader needs
(`kind`, `areas`, `published_at` on every record with `--published`). Standard library
only. It reads the seed data the portal already ships:

  portal/data/session1.json       structured extract of the co-facilitators' summary of the
                                  first informal thematic session (Geneva, 8-9 May 2017)
  portal/data/organisations.json  193 Member States, 2 observer States, UN entities, NGOs...

    python3 tests/perf/corpus.py -n 2000 -o corpus_2k.jsonl      # generate
    python3 tests/perf/corpus.py --check corpus_2k.jsonl         # validate + stats
    python3 tests/perf/corpus.py -n 5 --show                     # print samples

Every statement is tagged to session 1, one of its panels (or the informal
dialogue with stakeholders), and one of its 12 areas of discussion (a-l). The
body (300-1500 words) is assembled only from the seed's own sentences and
recommendations, recombined and turned from reported speech into first-person
statement style ("Delegations recognized that ..." -> "We recognize that ..."),
wrapped in conventional openings and closings ("Thank you, Co-facilitators.").

Non-English statements (language = fr/es/ar/ru/zh) carry an opening and a
closing formula in that language and an English body headed
"[Unofficial English translation]"; field text_language says so. The seed is
English-only, so no machine translation is attempted.

Everything is SYNTHETIC: no real delegation said these words. Output depends
only on the inputs, -n and --seed (same inputs + args => identical bytes).
`generate()` is the reference algorithm unchanged (one random stream); `generate_chunk()`
gives the benchmark independent, equally deterministic chunks that processes can make in
parallel (chunk k uses seed `seed * 1000 + k`).

Fields added to the reference record, derived without drawing random numbers (so the
other fields stay byte-identical to the reference generator's):
  kind   "delivered", or "written" when the text was sent three days or more after delivery
  areas  the area codes the statement is filed under: its area, plus the first secondary
         area its body dwells on, if any
"""
import argparse
import datetime as dt
import hashlib
import json
import math
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The seed data the portal ships (tests/perf -> portal/data).
DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "portal", "data")
GENERATOR_VERSION = "1"
DEFAULT_SEED = 20170508
MIN_WORDS, MAX_WORDS = 300, 1500
LANGS = ("en", "fr", "es", "ar", "ru", "zh")

# ---------------------------------------------------------------------------
# Heuristics for synthetic data only (not facts about real delegations)
# ---------------------------------------------------------------------------
ES = "ARG BOL CHL COL CRI CUB DOM ECU SLV GNQ GTM HND MEX NIC PAN PRY PER URY VEN".split()
FR = ("FRA LUX MCO HTI BEN BFA BDI CMR CAF TCD COM COG COD CIV DJI GAB GIN MDG MLI "
      "NER RWA SEN TGO").split()
AR = "BHR EGY IRQ JOR KWT LBY OMN QAT SAU SOM SDN SYR ARE YEM PSE".split()
MAGHREB = "DZA MAR TUN MRT".split()
RU = "RUS BLR KAZ KGZ TJK TKM UZB".split()
LANG_POOLS = {}
for c in ES:
    LANG_POOLS[c] = {"es": 0.7, "en": 0.3}
for c in FR:
    LANG_POOLS[c] = {"fr": 0.65, "en": 0.35}
for c in AR:
    LANG_POOLS[c] = {"ar": 0.45, "en": 0.55}
for c in MAGHREB:
    LANG_POOLS[c] = {"fr": 0.45, "ar": 0.35, "en": 0.2}
for c in RU:
    LANG_POOLS[c] = {"ru": 0.6, "en": 0.4}
LANG_POOLS.update({
    "CHN": {"zh": 0.5, "en": 0.5}, "ESP": {"es": 0.5, "en": 0.5},
    "BEL": {"fr": 0.5, "en": 0.5}, "CHE": {"en": 0.6, "fr": 0.4}, "CAN": {"en": 0.8, "fr": 0.2},
    "LBN": {"ar": 0.4, "fr": 0.3, "en": 0.3}, "VAT": {"en": 0.7, "fr": 0.15, "es": 0.15},
    "CAREF": {"es": 0.7, "en": 0.3}, "CELS": {"es": 0.7, "en": 0.3},
})
UN_LANGS = {"en": 0.9, "fr": 0.05, "es": 0.05}

ARTICLE_THE = {"Bahamas", "Comoros", "Congo", "Gambia", "Maldives", "Marshall Islands", "Niger",
               "Philippines", "Sudan", "Czech Republic"}

NGO_ACRONYMS_IN_TEXT = {"PICUM", "ICMC", "ITUC", "PSI", "BWI", "IUF", "MADE", "CELS", "CAREF", "IDC",
                        "ICFJ", "MFA", "CGD", "PRIO"}
THE_PREFIXES = ("International", "Global", "Platform", "Migration", "NGO", "Good Shepherd", "Centre",
                "Migrant", "Institute", "Peace", "Center", "Dag", "Swedish", "Government", "Special",
                "Public", "Building", "European", "Comisión")

ORG_TYPE_WEIGHTS = [("member_state", 0.70), ("observer_state", 0.02), ("un_entity", 0.09),
                    ("ngo", 0.15), ("other", 0.04)]
UN_WEIGHTS = {"OHCHR": 6, "IOM": 6, "UNHCR": 5, "UNICEF": 5, "ILO": 5, "UNWOMEN": 5, "WHO": 4,
              "UNODC": 3, "UNESCO": 3, "UNDP": 3, "UNFPA": 2, "UNDESA": 2, "UNITAR": 1, "UNU": 1}
OTHER_WEIGHTS = {"EU": 12, "SR-MIGRANTS": 2, "SR-RACISM": 2, "GFMD": 1, "SWEDISHREDCROSS": 1,
                 "DHF": 1, "CGD": 1, "GEORGETOWN": 1, "UG-CMS": 1, "EUI-MPC": 1, "PRIO": 1,
                 "IRIS-BHAM": 1, "UCDAVIS": 1, "CDMX": 1}

# Which areas each panel mostly dealt with (from the panel themes in the seed).
PANEL_AREAS = {
    1: ["a", "b", "c", "d", "e", "l"],
    2: ["f", "g", "h", "i", "j", "l"],
    3: ["k", "j", "a", "l"],
}
RELATED = {
    "a": "bdk", "b": "aceg", "c": "bdei", "d": "ace", "e": "bcd", "f": "ghij",
    "g": "fhb", "h": "fgj", "i": "fcb", "j": "kfl", "k": "jal", "l": "kja",
}
AREA_WEIGHTS = {"a": 12, "b": 10, "c": 9, "d": 8, "e": 8, "f": 11, "g": 7, "h": 7, "i": 8,
                "j": 8, "k": 10, "l": 5}

STATUS_WEIGHTS = [("approved", 0.86), ("pending", 0.09), ("rejected", 0.05)]
REJECT_REASONS = ["duplicate submission", "file could not be read", "not related to this session",
                  "submitted by an unverified account"]
SPEAKER_ROLES = {
    "member_state": ["Permanent Representative", "Deputy Permanent Representative", "Minister Counsellor",
                     "Counsellor", "First Secretary", "Director-General for Migration (capital)",
                     "Head of delegation"],
    "observer_state": ["Permanent Observer", "Deputy Permanent Observer", "Counsellor"],
    "un_entity": ["Director", "Deputy Director", "Senior Policy Adviser", "Representative"],
    "ngo": ["Executive Director", "Advocacy Coordinator", "Policy Officer", "Representative"],
    "other": ["Representative", "Head of delegation", "Senior Adviser"],
}

# ---------------------------------------------------------------------------
# Language formulas (short, conventional)
# ---------------------------------------------------------------------------
FOREIGN = {
    "fr": {"open": ["Merci, Messieurs les co-facilitateurs.",
                    "Messieurs les co-facilitateurs, Excellences, Mesdames et Messieurs,"],
           "close": ["Je vous remercie.", "Merci de votre attention."],
           "title": "Déclaration", "dialogue": "Dialogue informel"},
    "es": {"open": ["Gracias, señores cofacilitadores.",
                    "Señores cofacilitadores, Excelencias, distinguidos colegas:"],
           "close": ["Muchas gracias.", "Gracias, señores cofacilitadores."],
           "title": "Intervención", "dialogue": "Diálogo informal"},
    "ar": {"open": ["أصحاب السعادة، السيدات والسادة،"],
           "close": ["شكراً جزيلاً."],
           "title": "كلمة", "dialogue": "الحوار غير الرسمي"},
    "ru": {"open": ["Уважаемые сокоординаторы, уважаемые коллеги!"],
           "close": ["Благодарю за внимание."],
           "title": "Выступление", "dialogue": "Неофициальный диалог"},
    "zh": {"open": ["各位阁下，女士们，先生们："],
           "close": ["谢谢。"],
           "title": "发言", "dialogue": "非正式对话"},
}

# ---------------------------------------------------------------------------
# Reported speech -> first person
# ---------------------------------------------------------------------------
SUBJECT = (r"(?:A significant majority of Member States|A high number of participants|Several statements|"
           r"(?:Many|Several|Some|Most|Other) (?:delegations|Member States|States|participants)|"
           r"Delegations|Member States|States|Participants|Others|Many|Several|Some|They)")
VERBS = [
    ("paid particular attention to", "pay particular attention to"),
    ("made reference to", "make reference to"), ("expressed interest in", "are interested in"),
    ("appeared keen to", "are keen to"),
    ("called upon", "call upon"), ("called on", "call on"), ("called for", "call for"),
    ("referred to", "refer to"), ("pointed to", "point to"), ("pointed out", "point out"),
    ("cautioned against", "caution against"), ("agreed on", "agree on"),
    ("recognized", "recognize"), ("stressed", "stress"), ("noted", "note"), ("asserted", "assert"),
    ("expressed", "express"), ("mentioned", "mention"), ("highlighted", "highlight"),
    ("rejected", "reject"), ("recalled", "recall"), ("indicated", "indicate"), ("stated", "believe"),
    ("acknowledged", "acknowledge"), ("affirmed", "affirm"), ("opined", "believe"), ("cited", "cite"),
    ("signaled", "signal"), ("emphasized", "emphasize"), ("reiterated", "reiterate"),
    ("manifested", "express"), ("shared", "share"), ("highlighted", "highlight"),
]
VERB_RE = "|".join(re.escape(p) for p, _ in VERBS)
VERB_MAP = dict(VERBS)
ADVERB = r"(?:(?:also|repeatedly|generally|further|widely|overwhelmingly) )?"
REPORTED = re.compile(r"^(?P<subj>%s) %s(?P<verb>%s)\b(?P<rest>.*)$" % (SUBJECT, ADVERB, VERB_RE))
STARTS_WITH_SUBJECT = re.compile(r"^%s\b" % SUBJECT)
PANELISTS = re.compile(r"^(?:The )?[Pp]anelists (?P<verb>%s|made the point|established) that (?P<rest>.*)$"
                       % VERB_RE)
PANELIST_VERBS = {"made the point": "pointed out", "established": "pointed out", "cited": "pointed out",
                  "asserted": "asserted", "noted": "noted", "stressed": "stressed"}
OTHERS_CLAUSE = re.compile(r"\b(other States|other delegations|others|some) (%s)\b" % VERB_RE)
IT_WAS = re.compile(r"^It was (?:also )?(pointed out|noted|stated|mentioned|said|recognized by many|"
                    r"widely acknowledged|established) that (?P<rest>.*)$")
LEAD_CONNECTORS = re.compile(r"^(Meanwhile|Furthermore|However|Moreover|Overall|Therefore|In this regard|For example|"
                             r"As such|At the same time|In addition|Yet|Despite the complexity of the issues|"
                             r"Even though [^,]+),\s+")
NARRATIVE = re.compile(r"\b(was|were|had been|discussion|summary|this session|the session|panel|Panel|"
                       r"panelists|Panelists|the room|delegations|Delegations|participants|Participants|featured|served to|"
                       r"interest pointed|notion is shared|appears to be convergence)\b"
                       r"|^(They|Others|Some|Many|Several|It was|References|Much attention|On that basis|"
                       r"In the ensuing|Concrete issues)\b")
IMPERATIVE = set(("strengthen sign identify consolidate develop look consider further establish take "
                  "address issue implement promote facilitate provide increase combat offer introduce "
                  "commit reduce include build continue map invest pay ensure support foster encourage "
                  "set train enact make incorporate use improve collect").split())

CONNECTORS = ["Furthermore, ", "In this regard, ", "At the same time, ", "Moreover, ", "In addition, "]
THAT_CONNECTORS = ["Let me also underline that ", "We are convinced that ", "We firmly believe that "]
FIRST_PERSON = re.compile(r"^(I|We|My delegation|My mandate)\b")
STATE_ONLY = re.compile(r"sovereign|national right|their borders|the State's ability|rights of nationals|"
                        r"prerogative of the state|States have the right|national legislation")
DANGLING = re.compile(r"^(This|These|Such|That|Those)\b|that this (is|was|can|would)\b|"
                      r"It is acknowledged that this")
CONJ_VERB = re.compile(r"\b(and|but) (%s)\b" % "|".join(re.escape(p) for p in
                       ("noted", "stressed", "recognized", "called for", "expressed", "highlighted",
                        "asserted", "acknowledged", "recalled", "reaffirmed")))
CONJ_MAP = {"reaffirmed": "reaffirm"}


def third_person(phrase):
    first, _, rest = phrase.partition(" ")
    if first == "are":
        first = "is"
    elif re.search(r"(s|sh|ch|x|z)$", first):
        first += "es"
    elif re.search(r"[^aeiou]y$", first):
        first = first[:-1] + "ies"
    else:
        first += "s"
    return (first + " " + rest).strip()


def present_tense(text):
    text = re.sub(r"\bfaced challenges\b", "face challenges", text)
    text = re.sub(r"\bwere\b", "are", text)
    text = re.sub(r"\bwas\b", "is", text)
    return text


def split_sentences(paragraph):
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\"“])", paragraph.strip())
    return [p.strip() for p in parts if p.strip()]


def lcfirst(s):
    if len(s) > 1 and s[1].isupper():      # acronym (UN, SDG, ...)
        return s
    return s[:1].lower() + s[1:]


def ucfirst(s):
    return s[:1].upper() + s[1:]


class Speaker:
    """How the speaking entity refers to itself in the body."""

    def __init__(self, org):
        self.org = org
        self.type = org["type"]
        name = org["name"]
        if self.type in ("member_state", "observer_state"):
            if "(" in name and org.get("name_formal"):
                self.in_text = org["name_formal"]                  # the Islamic Republic of Iran
            elif (org.get("name_formal") == "the " + name) or name in ARTICLE_THE:
                self.in_text = "the " + name
            else:
                self.in_text = name
        elif self.type == "un_entity":
            self.in_text = org.get("acronym") or name
        elif org["id"] == "EU":
            self.in_text = "the European Union"
        elif org.get("acronym") in NGO_ACRONYMS_IN_TEXT:
            self.in_text = org["acronym"]
        elif name.startswith(THE_PREFIXES):
            self.in_text = "the " + name
        else:
            self.in_text = name
        self.title_name = ucfirst(self.in_text)
        self.full_in_text = ("the " + name) if (self.type in ("ngo", "other") and
                                                name.startswith(THE_PREFIXES)) else self.in_text
        if self.type in ("ngo", "other") and not name.startswith(THE_PREFIXES):
            self.full_in_text = name

    def subject(self, rng):
        """Return (subject, plural?) for a first-person clause."""
        r = rng.random()
        if self.type == "other" and self.org["subtype"] == "special_procedure":
            return "I", True
        if r < 0.62:
            return "We", True
        if r < 0.80 and self.type in ("member_state", "observer_state"):
            return "My delegation", False
        if self.type == "other" and self.org["subtype"] == "special_procedure":
            return "I", True
        return ucfirst(self.in_text), False


def transform(sentence, speaker, rng):
    """Turn a seed sentence into a first-person statement sentence, or None."""
    s = sentence.strip()
    s = LEAD_CONNECTORS.sub("", s)
    s = s[:1].upper() + s[1:]
    if DANGLING.search(s):
        return None
    if STATE_ONLY.search(s) and speaker.type not in ("member_state", "observer_state"):
        return None

    def others_present(text):
        return OTHERS_CLAUSE.sub(lambda m: m.group(1) + " " + VERB_MAP[m.group(2)], text)

    m = REPORTED.match(s)
    if m:
        subj, plural = speaker.subject(rng)
        verb = VERB_MAP[m.group("verb")]
        if not plural:
            verb = third_person(verb)
        rest = others_present(present_tense(m.group("rest")))

        def conj(mm):
            v = CONJ_MAP.get(mm.group(2)) or VERB_MAP[mm.group(2)]
            return mm.group(1) + " " + (v if plural else third_person(v))
        rest = CONJ_VERB.sub(conj, rest)
        if re.match(r"^ their\b", rest):
            poss = "our" if subj in ("We", "I") else "its"
            rest = " " + poss + rest[6:]
            rest = rest.replace("at and within their borders", f"at and within {poss} borders")
        if subj == "I" and verb.startswith("are "):
            verb = "am " + verb[4:]
        out = f"{subj} {verb}{rest}"
        return out if not NARRATIVE.search(out) else None
    m = PANELISTS.match(s)
    if m:
        rest = present_tense(m.group("rest"))
        verb = PANELIST_VERBS.get(m.group("verb"), "pointed out")
        out = f"As the panelists rightly {verb}, {lcfirst(rest)}"
        return out if not NARRATIVE.search(rest) and not re.search(r"\bThey\b", rest) else None
    m = IT_WAS.match(s)
    if m:
        rest = present_tense(m.group("rest"))
        if m.group(1) == "widely acknowledged":
            out = "It is widely acknowledged that " + rest
        else:
            subj, plural = speaker.subject(rng)
            verb = "note" if plural else "notes"
            out = f"{subj} {'am' if subj == 'I' else ''}".strip()
            out = f"{subj} {verb} that {rest}" if subj != "I" else f"I note that {rest}"
        return out if not NARRATIVE.search(out) else None
    if STARTS_WITH_SUBJECT.match(s) or NARRATIVE.search(s):
        return None
    return s


def join_connector(rng, t, speaker):
    """Prefix a connector to sentence t, fixing capitalisation."""
    own = ucfirst(speaker.in_text)
    if t.startswith(own + " "):
        return rng.choice(CONNECTORS) + speaker.in_text + t[len(own):]
    if FIRST_PERSON.match(t):
        c = rng.choice(CONNECTORS)
        return c + (t if t.startswith("I ") else lcfirst(t))
    c = rng.choice(CONNECTORS + THAT_CONNECTORS)
    first = t.split(" ", 1)[0]
    if first.isupper() or first in ("National", "United", "European"):
        return c + t
    return c + lcfirst(t)


# ---------------------------------------------------------------------------
# Data loading
# ---------------------------------------------------------------------------
def load_inputs(session_path, orgs_path):
    with open(session_path, encoding="utf-8") as f:
        s1 = json.load(f)
    with open(orgs_path, encoding="utf-8") as f:
        orgs = json.load(f)["organisations"]
    areas = {a["letter"]: a for a in s1["areas_of_discussion"]}
    panels = {p["number"]: p for p in s1["panels"]}
    return s1, orgs, areas, panels


def weighted(rng, pairs):
    items = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(items, weights=weights, k=1)[0]


def pick_org(rng, by_type):
    typ = weighted(rng, ORG_TYPE_WEIGHTS)
    pool = by_type[typ]
    if typ == "un_entity":
        return rng.choices(pool, weights=[UN_WEIGHTS.get(o["id"], 0.5) for o in pool], k=1)[0]
    if typ == "other":
        return rng.choices(pool, weights=[OTHER_WEIGHTS.get(o["id"], 0.5) for o in pool], k=1)[0]
    return rng.choice(pool)


def pick_language(rng, org):
    if org["id"] in LANG_POOLS:
        pool = LANG_POOLS[org["id"]]
    elif org["type"] == "un_entity":
        pool = UN_LANGS
    else:
        return "en"
    return weighted(rng, sorted(pool.items()))


def words(text):
    return len(re.findall(r"\S+", text))


# ---------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------
def opening_paragraphs(rng, sp, segment, panel, s1):
    cof = "Ambassador Gómez Camacho and Ambassador Lauber"
    out = []
    if segment == "informal_dialogue":
        out.append(rng.choice([
            "Thank you, Co-facilitators, for the opportunity to engage with you in this informal dialogue.",
            "Thank you, Co-facilitators. We are grateful for this informal dialogue with stakeholders ahead "
            "of the resumption of the session.",
        ]))
        out.append(f"I speak on behalf of {sp.full_in_text}.")
        return out
    first = rng.choice([
        "Thank you, Co-facilitators.",
        "Thank you, Co-facilitators.",
        "Thank you, Mr. Co-facilitator.",
        "Co-facilitators, Excellencies, distinguished colleagues,",
        "Excellencies, distinguished delegates, ladies and gentlemen,",
        f"Let me begin by thanking the co-facilitators, {cof}, for convening this first informal "
        "thematic session, and Ms. Louise Arbour for her remarks.",
    ])
    out.append(first)
    if panel and panel["number"] in (1, 2, 3) and rng.random() < 0.6:
        mod = panel["moderator"]["name"]
        out.append(rng.choice([
            f"I would like to thank {mod} for moderating this panel, and the panelists for their "
            "insightful presentations.",
            "We thank the moderator and the panelists for their valuable contributions.",
        ]))
    if sp.type == "member_state" and sp.org.get("eu_member_2017") and rng.random() < 0.4:
        out.append(f"{ucfirst(sp.in_text)} aligns itself with the statement delivered on behalf of the "
                   "European Union and would like to add the following remarks in its national capacity.")
    return out


def framing_paragraph(rng, sp, segment, panel, s1):
    title = s1["session"]["title"]
    opts = [
        f"{ucfirst(sp.in_text)} welcomes the opportunity to contribute to this first informal thematic "
        f"session on \"{title}\".",
        f"We attach great importance to the theme of this session: {lcfirst(title)}.",
        "The inter-agency issue brief prepared by the Secretary-General of the intergovernmental "
        "conference provides a useful basis for our discussions.",
    ]
    if panel and panel["number"] in (1, 2, 3):
        opts.append(f"Allow me to make a few remarks on the theme of this panel, "
                    f"{lcfirst(panel['title'])}.")
    if panel and panel["number"] == 4:
        opts.append("As we conclude this first informal thematic session, allow me to highlight the "
                    "issues of priority for my delegation." if sp.type in ("member_state", "observer_state")
                    else "As we conclude this first informal thematic session, allow me to highlight a "
                    "few priorities.")
    first = rng.choice(opts)
    rest = [o for o in opts[2:] if o != first]          # never repeat the session title
    if rest and rng.random() < 0.5:
        return first + " " + rng.choice(rest)
    return first


def prose_from(rng, sp, paragraphs, used, max_sent):
    sents = []
    for p in paragraphs:
        for s in split_sentences(p):
            sents.append(s)
    rng.shuffle(sents)
    out = []
    for s in sents:
        if len(out) >= max_sent:
            break
        key = s[:60]
        if key in used:
            continue
        t = transform(s, sp, rng)
        if not t:
            continue
        used.add(key)
        if out and rng.random() < 0.35:
            t = join_connector(rng, t, sp)
        out.append(t)
    return " ".join(out)


def recommendations_block(rng, sp, area, used_recs, max_n, used_leads):
    recs = [r for r in area["recommendations"] if r not in used_recs]
    if not recs:
        return None
    n = max(1, min(max_n, len(recs), rng.randint(1, 4)))
    chosen = rng.sample(recs, n)
    for r in chosen:
        used_recs.add(r)
    style = rng.random()
    if style < 0.55 or any(r.split()[0].lower() not in IMPERATIVE for r in chosen):
        leads = [
            "In this regard, we would like to put forward the following concrete recommendations for "
            "consideration in the global compact:",
            f"Concretely, {sp.in_text if sp.type == 'un_entity' else 'we'} recommend"
            f"{'s' if sp.type == 'un_entity' else ''} that the global compact include commitments to:",
            "We therefore propose the following actionable commitments:",
            "Our concrete proposals in this area are the following:",
            "Allow me to outline some concrete recommendations:",
        ]
        fresh = [l for l in leads if l not in used_leads] or leads
        lead = rng.choice(fresh)
        used_leads.add(lead)
        return lead + "\n" + "\n".join("- " + r.rstrip(".") for r in chosen)
    parts = []
    for i, r in enumerate(chosen):
        verb_phrase = lcfirst(r.rstrip("."))
        if i == 0:
            parts.append(f"We encourage States to {verb_phrase}.")
        else:
            parts.append(rng.choice(["We also call on States to ", "States should further ",
                                     "It is equally important to "]) + verb_phrase + ".")
    return " ".join(parts)


def closing_paragraphs(rng, sp, segment):
    out = []
    if rng.random() < 0.7:
        out.append(rng.choice([
            "We look forward to continuing our active engagement throughout the preparatory process.",
            f"{ucfirst(sp.in_text)} stands ready to work with all delegations and stakeholders towards a "
            "global compact that is practical, people-centred and rooted in human rights.",
            "We hope that these recommendations will be reflected in the stocktaking meeting in Mexico "
            "in December and in the zero draft of the global compact.",
            "We will submit this statement to gcmigration@un.org for posting on the dedicated website.",
        ]))
    out.append(rng.choice(["I thank you.", "Thank you.", "Thank you, Co-facilitators."]))
    return out


def build_body(rng, sp, area_letter, segment, panel, s1, areas, target, max_words=MAX_WORDS):
    used, used_recs, used_leads = set(), set(), set()
    head = opening_paragraphs(rng, sp, segment, panel, s1)
    middle = [framing_paragraph(rng, sp, segment, panel, s1)]

    order = [area_letter] + [a for a in rng.sample(RELATED[area_letter], len(RELATED[area_letter]))]
    others = [a for a in sorted(areas) if a not in order]
    rng.shuffle(others)
    order += others
    secondary = []
    panel_done = False
    concl_done = False
    tail = closing_paragraphs(rng, sp, segment)

    def total():
        return sum(words(p) for p in head + middle + tail)

    for i, letter in enumerate(order):
        if total() >= target:
            break
        area = areas[letter]
        prose = prose_from(rng, sp, area["intro_paragraphs"], used, rng.randint(2, 5))
        if prose:
            middle.append(prose)
        if total() < target:
            block = recommendations_block(rng, sp, area, used_recs, 5 if i == 0 else 3, used_leads)
            if block:
                middle.append(block)
        if i > 0:
            secondary.append(letter)
        if not panel_done and panel and panel["number"] in (1, 2, 3) and total() < target:
            p = prose_from(rng, sp, panel["summary_paragraphs"], used, rng.randint(1, 3))
            if p:
                middle.append(p)
            panel_done = True
        if i >= 1 and not concl_done and total() < target and rng.random() < 0.5:
            p = prose_from(rng, sp, s1["conclusions_paragraphs"], used, rng.randint(1, 3))
            if p:
                middle.append(p)
            concl_done = True

    # enforce bounds: drop trailing middle blocks (never the framing one) while too long
    while total() > max_words and len(middle) > 2:
        middle.pop()
    if total() > max_words:                      # trim the last block sentence-wise
        sents = split_sentences(middle[-1])
        while sents and total() > max_words:
            sents.pop()
            middle[-1] = " ".join(sents)
    secondary = [l for l in secondary if l != area_letter]
    return head + middle + tail, secondary


def first_person_singular(text):
    text = re.sub(r"\b[Ww]e are\b", lambda m: "I am", text)
    text = re.sub(r"\bWe\b", "I", text)
    text = re.sub(r"\bwe\b", "I", text)
    text = re.sub(r"\bMy mandate is\b", "I am", text)
    return text


def make_title(rng, sp, lang, segment, panel, area):
    label = ("Informal dialogue with the co-facilitators" if segment == "informal_dialogue"
             else f"Panel {panel['number']}: {panel['title']}" if panel["number"] != 4
             else "Summary panel")
    if lang != "en":
        f = FOREIGN[lang]
        name = sp.org.get("names", {}).get(lang) or sp.title_name
        short = f["dialogue"] if segment == "informal_dialogue" else (
            f"Panel {panel['number']}" if panel["number"] != 4 else "Panel 4")
        return f"{f['title']} — {name} — {short}"
    n = sp.title_name
    r = rng.random()
    if segment == "informal_dialogue":
        return rng.choice([f"Oral input by {sp.in_text} — {label}", f"{n}: input to the informal dialogue "
                           f"on {lcfirst(area['title'])}"])
    if sp.type == "member_state" and r < 0.2:
        return f"Statement of the delegation of {sp.in_text} — {label}"
    if r < 0.6:
        return f"Statement by {sp.in_text} — {label}"
    if r < 0.8:
        return f"{n} statement on {lcfirst(area['title'])} ({label.split(':')[0]})"
    return f"Intervention of {sp.in_text} — {label}"


def slot_time(rng, date, start, end):
    h1, m1 = map(int, start.split(":"))
    h2, m2 = map(int, end.split(":"))
    a, b = h1 * 60 + m1, h2 * 60 + m2
    t = rng.randint(a, max(a, b - 5))
    return dt.datetime.fromisoformat(date) + dt.timedelta(minutes=t)


def generate(n, seed, s1, orgs, areas, panels, *, start=1, published=False):
    """Yield n statement records. `start` numbers the first id; with `published`, every
    statement is approved and has a published_at (the benchmark's public record)."""
    rng = random.Random(seed)
    by_type = {}
    for o in orgs:
        by_type.setdefault(o["type"], []).append(o)
    area_pairs = sorted(AREA_WEIGHTS.items())
    session = s1["session"]
    for i in range(start, start + n):
        org = pick_org(rng, by_type)
        sp = Speaker(org)
        area_letter = weighted(rng, area_pairs)
        area = areas[area_letter]
        if org["type"] == "ngo" and rng.random() < 0.5:
            segment, panel = "informal_dialogue", None
            date, t0, t1 = "2017-05-09", "09:00", "10:00"
        else:
            if rng.random() < 0.15:
                pn = 4
            else:
                cands = [p for p, al in sorted(PANEL_AREAS.items()) if area_letter in al]
                pn = rng.choice(cands)
            panel = panels[pn]
            segment = f"panel_{pn}"
            date, t0, t1 = panel["date"], panel["start"], panel["end"]
        lang = pick_language(rng, org)
        prefix, suffix = [], []
        if rng.random() < 0.25:
            prefix.append("Check against delivery")
        if lang != "en":
            f = FOREIGN[lang]
            prefix += [rng.choice(f["open"]), "[Unofficial English translation]"]
            suffix.append(rng.choice(f["close"]))
        budget = MAX_WORDS - sum(words(x) for x in prefix + suffix)
        target = int(min(budget, max(MIN_WORDS + 20, rng.lognormvariate(math.log(620), 0.45))))
        paras, secondary = build_body(rng, sp, area_letter, segment, panel, s1, areas, target, budget)
        if org.get("subtype") == "special_procedure":        # independent experts speak as "I"
            paras = [first_person_singular(x) for x in paras]
        paras = prefix + paras + suffix
        body = "\n\n".join(paras)
        delivered = slot_time(rng, date, t0, t1)
        submitted = delivered + dt.timedelta(
            minutes=rng.choice([rng.randint(30, 600), rng.randint(600, 4320), rng.randint(4320, 20160)]))
        status = weighted(rng, STATUS_WEIGHTS)
        if published:
            status = "approved"
        rec = {
            "id": f"s1-{i:05d}",
            "title": make_title(rng, sp, lang, segment, panel, area),
            "organisation": org["name"],
            "organisation_id": org["id"],
            "org_type": org["type"],
            "speaker_role": rng.choice(SPEAKER_ROLES[org["type"]]),
            "session": session["number"],
            "session_title": session["title"],
            "segment": segment,
            "panel": panel["number"] if panel else None,
            "panel_title": panel["title"] if panel else "Informal dialogue with the co-facilitators",
            "area": area_letter,
            "area_title": area["title"],
            "secondary_areas": secondary[:3],
            "language": lang,
            "text_language": "en" if lang == "en" else f"{lang}+en",
            "delivered_on": delivered.date().isoformat(),
            "submitted_at": submitted.isoformat(timespec="minutes"),
            "status": status,
            "word_count": words(body),
            "body": body,
            "synthetic": True,
            "kind": "written" if submitted - delivered >= dt.timedelta(days=3) else "delivered",
            "areas": [area_letter] + secondary[:1],
        }
        if status == "approved":
            rec["published_at"] = (submitted + dt.timedelta(minutes=rng.randint(20, 4320))).isoformat(
                timespec="minutes")
        elif status == "rejected":
            rec["rejection_reason"] = rng.choice(REJECT_REASONS)
        yield rec


def load_default_inputs():
    """(s1, orgs, areas, panels) from the seed data in portal/data."""
    return load_inputs(os.path.join(DATA_DIR, "session1.json"), os.path.join(DATA_DIR, "organisations.json"))


def generate_chunk(k, size, seed=DEFAULT_SEED, *, published=True):
    """Chunk k (0-based) of a corpus made of independent chunks of `size` statements: ids
    k*size+1 .. (k+1)*size, random stream seeded with seed*1000+k. Processes can make
    chunks in parallel; the corpus is the same whatever the number of processes."""
    s1, orgs, areas, panels = load_default_inputs()
    return list(generate(size, seed * 1000 + k, s1, orgs, areas, panels, start=k * size + 1, published=published))


def write_chunked(path, n, seed=DEFAULT_SEED, *, size=1000, processes=None, published=True):
    """Write n statements in chunks of `size` (made by `processes` processes) as JSON Lines
    to `path`; return its sha256. Same n, seed and size => identical bytes."""
    from concurrent.futures import ProcessPoolExecutor

    h = hashlib.sha256()
    chunks = [(k, min(size, n - k * size)) for k in range(-(-n // size))]
    with open(path, "w", encoding="utf-8", newline="\n") as out, \
            ProcessPoolExecutor(max_workers=processes or os.cpu_count() or 1) as pool:
        futures = [pool.submit(_chunk_lines, k, count, size, seed, published) for k, count in chunks]
        for future in futures:  # in order, so the file does not depend on scheduling
            text = future.result()
            h.update(text.encode("utf-8"))
            out.write(text)
    return h.hexdigest()


def _chunk_lines(k, count, size, seed, published):
    s1, orgs, areas, panels = load_default_inputs()
    records = generate(count, seed * 1000 + k, s1, orgs, areas, panels, start=k * size + 1, published=published)
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def read_jsonl(path):
    """The records of a JSON Lines corpus, one at a time."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------
REQUIRED = ["id", "title", "organisation", "organisation_id", "org_type", "session", "segment", "area",
            "area_title", "language", "delivered_on", "submitted_at", "status", "word_count", "body"]


def check(path, s1, orgs, areas):
    org_ids = {o["id"]: o for o in orgs}
    start, end = s1["session"]["start_date"], s1["session"]["end_date"]
    problems, n = [], 0
    stats = {k: {} for k in ("org_type", "language", "area", "segment", "status", "delivered_on")}
    wc = []
    ids = set()
    bad_phrases = re.compile(r"\b(We|My delegation) (recognized|stressed|noted|called)\b|"
                             r"\bdelegations (recognized|stressed|noted)\b|  |\.\.|\s,")
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            n += 1
            r = json.loads(line)
            for k in REQUIRED:
                if r.get(k) in (None, ""):
                    problems.append(f"line {ln}: missing {k}")
            if r["id"] in ids:
                problems.append(f"line {ln}: duplicate id")
            ids.add(r["id"])
            if r["organisation_id"] not in org_ids:
                problems.append(f"line {ln}: unknown org")
            elif org_ids[r["organisation_id"]]["type"] != r["org_type"]:
                problems.append(f"line {ln}: org_type mismatch")
            if r["area"] not in areas or areas[r["area"]]["title"] != r["area_title"]:
                problems.append(f"line {ln}: bad area")
            if r["language"] not in LANGS:
                problems.append(f"line {ln}: bad language")
            if not (start <= r["delivered_on"] <= end):
                problems.append(f"line {ln}: delivered_on outside session")
            if r["submitted_at"][:10] < r["delivered_on"]:
                problems.append(f"line {ln}: submitted before delivery")
            w = words(r["body"])
            if w != r["word_count"] or not (MIN_WORDS <= w <= MAX_WORDS):
                problems.append(f"line {ln}: word_count {w} / {r['word_count']}")
            if bad_phrases.search(r["body"]):
                problems.append(f"line {ln}: suspicious phrase {bad_phrases.search(r['body']).group(0)!r}")
            if r["segment"] == "informal_dialogue" and r["org_type"] != "ngo":
                problems.append(f"line {ln}: informal dialogue by non-NGO")
            wc.append(w)
            for k in stats:
                stats[k][r[k]] = stats[k].get(r[k], 0) + 1
    wc.sort()
    print(f"{n} statements, {len(problems)} problems")
    for p in problems[:20]:
        print("  ", p)
    print(f"words: min {wc[0]} median {wc[len(wc)//2]} mean {sum(wc)/len(wc):.0f} max {wc[-1]}")
    for k, v in stats.items():
        print(f"{k}: " + ", ".join(f"{a}={b}" for a, b in sorted(v.items(), key=lambda x: -x[1])))
    return not problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="number of statements (default 2000)")
    ap.add_argument("-o", "--out", help="output JSON Lines file (default: stdout)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--session", default=os.path.join(DATA_DIR, "session1.json"))
    ap.add_argument("--orgs", default=os.path.join(DATA_DIR, "organisations.json"))
    ap.add_argument("--check", metavar="JSONL", help="validate a generated file and print stats")
    ap.add_argument("--show", action="store_true", help="pretty-print the statements instead")
    ap.add_argument("--published", action="store_true", help="every statement approved, with published_at")
    a = ap.parse_args()
    s1, orgs, areas, panels = load_inputs(a.session, a.orgs)
    if a.check:
        sys.exit(0 if check(a.check, s1, orgs, areas) else 1)
    out = open(a.out, "w", encoding="utf-8", newline="\n") if a.out else sys.stdout
    h = hashlib.sha256()
    for rec in generate(a.n, a.seed, s1, orgs, areas, panels, published=a.published):
        if a.show:
            out.write(f"=== {rec['id']} | {rec['title']} | {rec['org_type']} | {rec['language']} | "
                      f"{rec['delivered_on']} | area {rec['area']} | {rec['word_count']} words\n"
                      f"{rec['body']}\n\n")
            continue
        line = json.dumps(rec, ensure_ascii=False, sort_keys=False) + "\n"
        h.update(line.encode("utf-8"))
        out.write(line)
    if a.out:
        out.close()
        print(f"wrote {a.n} statements to {a.out} (sha256 {h.hexdigest()[:16]})", file=sys.stderr)


if __name__ == "__main__":
    main()
