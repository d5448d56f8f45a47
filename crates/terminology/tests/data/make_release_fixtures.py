#!/usr/bin/env python3
"""Write the synthetic LOINC, ICD-10-CM and RxNorm fixtures under tests/data/{loinc,icd10cm,rxnorm}.

Usage (from crates/terminology): python3 tests/data/make_release_fixtures.py

Each fixture is in its release's exact file format (names, columns, quoting, separators, line
endings) but its content is written here: a few well-known codes used as examples, and many
synthetic rows, named "Synthetic ...", so the fixtures hold no licensed release content. The
output is deterministic; the tests count what it writes, so change both together.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

HERE = Path(__file__).resolve().parent


def luhn(number: str) -> int:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit = digit // 10 + digit % 10
        total += digit
    return (10 - total % 10) % 10


def loinc_code(number: int) -> str:
    return f"{number}-{luhn(str(number))}"


def part_code(number: int) -> str:
    return f"LP{number}-{luhn(str(number))}"


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# LOINC
# ---------------------------------------------------------------------------------------------

LOINC_HEADER = (
    "LOINC_NUM COMPONENT PROPERTY TIME_ASPCT SYSTEM SCALE_TYP METHOD_TYP CLASS VersionLastChanged "
    "CHNG_TYPE DefinitionDescription STATUS CONSUMER_NAME CLASSTYPE FORMULA EXMPL_ANSWERS "
    "SURVEY_QUEST_TEXT SURVEY_QUEST_SRC UNITSREQUIRED RELATEDNAMES2 SHORTNAME ORDER_OBS "
    "HL7_FIELD_SUBFIELD_ID EXTERNAL_COPYRIGHT_NOTICE EXAMPLE_UNITS LONG_COMMON_NAME "
    "EXAMPLE_UCUM_UNITS STATUS_REASON STATUS_TEXT CHANGE_REASON_PUBLIC COMMON_TEST_RANK "
    "COMMON_ORDER_RANK HL7_ATTACHMENT_STRUCTURE EXTERNAL_COPYRIGHT_LINK PanelType "
    "AskAtOrderEntry AssociatedObservations VersionFirstReleased ValidHL7AttachmentRequest "
    "DisplayName"
).split()

# Parts: (code, type, name, display, status).
PARTS = {
    "Glucose": ("LP14635-4", "COMPONENT", "Glucose", "Glucose", "ACTIVE"),
    "Hemoglobin A1c": (part_code(16413), "COMPONENT", "Hemoglobin A1c/Hemoglobin.total",
                       "Hemoglobin A1c/Hemoglobin.total", "ACTIVE"),
    "Creatinine": (part_code(14355), "COMPONENT", "Creatinine", "Creatinine", "ACTIVE"),
    "Hemoglobin": (part_code(14449), "COMPONENT", "Hemoglobin", "Hemoglobin", "ACTIVE"),
    "Body weight": (part_code(64598), "COMPONENT", "Body weight", "Body weight", "ACTIVE"),
    "Heart rate": (part_code(64535), "COMPONENT", "Heart rate", "Heart rate", "ACTIVE"),
    "MCnc": ("LP6827-2", "PROPERTY", "MCnc", "Mass concentration", "ACTIVE"),
    "MFr": (part_code(6822), "PROPERTY", "MFr", "Mass fraction", "ACTIVE"),
    "Mass": (part_code(6810), "PROPERTY", "Mass", "Mass", "ACTIVE"),
    "NRat": (part_code(6840), "PROPERTY", "NRat", "Number rate", "ACTIVE"),
    "Pt": ("LP6960-1", "TIME", "Pt", "Point in time (spot)", "ACTIVE"),
    "Ser/Plas": ("LP7576-4", "SYSTEM", "Ser/Plas", "Serum or plasma", "ACTIVE"),
    "Bld": ("LP7057-5", "SYSTEM", "Bld", "Blood", "ACTIVE"),
    "Patient": (part_code(6934), "SYSTEM", "^Patient", "^Patient", "ACTIVE"),
    "Qn": ("LP7753-9", "SCALE", "Qn", "Quantitative", "ACTIVE"),
    "Measured": (part_code(7319), "METHOD", "Measured", "Measured", "ACTIVE"),
    "Test strip": (part_code(7318), "METHOD", "Test strip.manual", "Test strip manual", "DEPRECATED"),
    "CHEM": ("LP7786-9", "CLASS", "CHEM", "Chemistry", "ACTIVE"),
    "HEM/BC": (part_code(7803), "CLASS", "HEM/BC", "Hematology and blood count", "ACTIVE"),
    "BDYWGT.ATOM": (part_code(7792), "CLASS", "BDYWGT.ATOM", "Body weight atomic", "ACTIVE"),
    "HRTRATE.ATOM": (part_code(7794), "CLASS", "HRTRATE.ATOM", "Heart rate atomic", "ACTIVE"),
}

# Well-known terms: (code, component, property, system, method, class, classtype, long name,
# short name, status, order/obs, version last changed).
KNOWN_TERMS = [
    ("2345-7", "Glucose", "MCnc", "Ser/Plas", "", "CHEM", "1",
     "Glucose [Mass/volume] in Serum or Plasma", "Glucose SerPl-mCnc", "ACTIVE", "Both", "2.77"),
    ("2339-0", "Glucose", "MCnc", "Bld", "", "CHEM", "1",
     "Glucose [Mass/volume] in Blood", "Glucose Bld-mCnc", "ACTIVE", "Both", "2.73"),
    ("41653-7", "Glucose", "MCnc", "Bld", "Test strip", "CHEM", "1",
     "Glucose [Mass/volume] in Capillary blood by Glucometer", "Glucose BldC Glucomtr-mCnc",
     "DISCOURAGED", "Observation", "2.73"),
    ("4548-4", "Hemoglobin A1c", "MFr", "Bld", "", "CHEM", "1",
     "Hemoglobin A1c/Hemoglobin.total in Blood", "Hgb A1c MFr Bld", "ACTIVE", "Both", "2.73"),
    ("2160-0", "Creatinine", "MCnc", "Ser/Plas", "", "CHEM", "1",
     "Creatinine [Mass/volume] in Serum or Plasma", "Creat SerPl-mCnc", "ACTIVE", "Both", "2.73"),
    ("718-7", "Hemoglobin", "MCnc", "Bld", "", "HEM/BC", "1",
     "Hemoglobin [Mass/volume] in Blood", "Hgb Bld-mCnc", "ACTIVE", "Both", "2.73"),
    ("29463-7", "Body weight", "Mass", "Patient", "", "BDYWGT.ATOM", "2",
     "Body weight", "Weight", "ACTIVE", "Both", "2.73"),
    ("8867-4", "Heart rate", "NRat", "Patient", "", "HRTRATE.ATOM", "2",
     "Heart rate", "Heart rate", "ACTIVE", "Both", "2.73"),
    (loinc_code(9_099_999), "Glucose", "MCnc", "Ser/Plas", "Measured", "CHEM", "1",
     "Glucose [Mass/volume] in Serum or Plasma --measured (synthetic retired term)",
     "Glucose SerPl-mCnc meas", "DEPRECATED", "Observation", "2.77"),
]

SYNTHETIC_TERMS = 240
SYNTHETIC_COMPONENTS = 40


def loinc_fixture() -> None:
    for term in KNOWN_TERMS:
        number, check = term[0].split("-")
        assert luhn(number) == int(check), term[0]
    root = HERE / "loinc" / "Loinc_2.77"
    parts = dict(PARTS)
    for index in range(SYNTHETIC_COMPONENTS):
        name = f"Synthetic analyte {index:03}"
        status = "DEPRECATED" if index == 39 else "ACTIVE"
        parts[name] = (part_code(9_100_000 + index), "COMPONENT", name, name, status)

    terms = []  # (code, component, property, system, method, class, classtype, long, short,
    #             status, order_obs, changed)
    terms.extend(KNOWN_TERMS)
    for index in range(SYNTHETIC_TERMS):
        component = f"Synthetic analyte {index % SYNTHETIC_COMPONENTS:03}"
        system = "Ser/Plas" if index % 2 == 0 else "Bld"
        status = "ACTIVE"
        if index % 40 == 7:
            status = "DEPRECATED"
        elif index % 40 == 19:
            status = "DISCOURAGED"
        elif index % 40 == 29:
            status = "TRIAL"
        long_name = f"{component} [Mass/volume] in {'Serum or Plasma' if system == 'Ser/Plas' else 'Blood'} #{index}"
        terms.append((loinc_code(9_000_000 + index), component, "MCnc", system, "", "CHEM", "1",
                      long_name, f"Syn{index:03} {system}-mCnc", status, "Observation", "2.76"))

    rows = []
    for (code, component, prop, system, method, klass, classtype, long_name, short, status,
         order_obs, changed) in terms:
        values = {name: "" for name in LOINC_HEADER}
        values.update({
            "LOINC_NUM": code,
            "COMPONENT": parts[component][2],
            "PROPERTY": prop,
            "TIME_ASPCT": "Pt",
            "SYSTEM": parts[system][2],
            "SCALE_TYP": "Qn",
            "METHOD_TYP": parts[method][2] if method else "",
            "CLASS": klass,
            "VersionLastChanged": changed,
            "CHNG_TYPE": "MIN",
            "STATUS": status,
            "CLASSTYPE": classtype,
            "SHORTNAME": short,
            "ORDER_OBS": order_obs,
            "LONG_COMMON_NAME": long_name,
            "EXAMPLE_UCUM_UNITS": "mg/dL" if prop == "MCnc" else "",
            "VersionFirstReleased": "2.60",
            "DisplayName": long_name.replace(" [Mass/volume]", " (mass/vol)"),
        })
        if code == "2345-7":
            values["DefinitionDescription"] = "Synthetic definition: glucose measured in serum or plasma."
            values["RELATEDNAMES2"] = "Gluc; Glu; Sugar; Serum; Plasma"
        rows.append([values[name] for name in LOINC_HEADER])
    write_csv(root / "LoincTable" / "Loinc.csv", LOINC_HEADER, rows)

    part_rows = [[code, kind, name, display, status]
                 for code, kind, name, display, status in parts.values()]
    write_csv(root / "AccessoryFiles" / "PartFile" / "Part.csv",
              ["PartNumber", "PartTypeName", "PartName", "PartDisplayName", "Status"], part_rows)

    link_rows = []
    axis_properties = [("COMPONENT", 1), ("PROPERTY", 2), ("TIME_ASPCT", None), ("SYSTEM", 3),
                       ("SCALE_TYP", None), ("METHOD_TYP", 4)]
    for term in terms:
        code, component, prop, system, method = term[0], term[1], term[2], term[3], term[4]
        by_axis = {"COMPONENT": component, "PROPERTY": prop, "TIME_ASPCT": "Pt",
                   "SYSTEM": system, "SCALE_TYP": "Qn", "METHOD_TYP": method}
        for axis, _ in axis_properties:
            key = by_axis[axis]
            if not key:
                continue
            part = parts[key]
            link_rows.append([code, term[7], part[0], part[2], "http://loinc.org", part[1],
                              "Primary", f"http://loinc.org/property/{axis}"])
    # A link to a term that is not in Loinc.csv: skipped.
    link_rows.append(["99999-9", "Not a term of this release", "LP14635-4", "Glucose",
                      "http://loinc.org", "COMPONENT", "Primary",
                      "http://loinc.org/property/COMPONENT"])
    write_csv(root / "AccessoryFiles" / "PartFile" / "LoincPartLink_Primary.csv",
              ["LoincNumber", "LongCommonName", "PartNumber", "PartName", "PartCodeSystem",
               "PartTypeName", "LinkTypeName", "Property"], link_rows)

    # The component hierarchy by system: root, class groups, components, component|system
    # nodes, terms. Hierarchy-only codes (the root, the groups and the component|system nodes)
    # are not in Part.csv.
    hierarchy = []

    def node(path: list[str], parent: str, code: str, text: str) -> None:
        sequence = sum(1 for row in hierarchy if row[2] == parent) + 1
        hierarchy.append([".".join(path), str(sequence), parent, code, text])

    root_code = "LP432695-7"
    node([], "", root_code, "{component}")
    lab = part_code(29693)
    node([root_code], root_code, lab, "Laboratory")
    chem = PARTS["CHEM"][0]
    node([root_code, lab], lab, chem, "Chemistry")
    clinical = part_code(29708)
    node([root_code], root_code, clinical, "Clinical")
    carbohydrates = part_code(40271)
    node([root_code, lab, chem], chem, carbohydrates, "Carbohydrates")

    component_nodes: dict[str, list[str]] = {}
    for term in terms:
        component = term[1]
        if component in component_nodes:
            continue
        part = parts[component]
        if term[6] == "2":
            path = [root_code, clinical]
            parent = clinical
        elif component == "Glucose":
            path = [root_code, lab, chem, carbohydrates]
            parent = carbohydrates
        else:
            path = [root_code, lab, chem]
            parent = chem
        node(path, parent, part[0], part[2])
        component_nodes[component] = path + [part[0]]

    system_nodes: dict[tuple[str, str], list[str]] = {}
    counter = 0
    for term in terms:
        component, system = term[1], term[3]
        key = (component, system)
        if key not in system_nodes:
            counter += 1
            code = part_code(9_200_000 + counter)
            path = component_nodes[component]
            node(path, path[-1], code, f"{parts[component][2]} | {parts[system][3]}")
            system_nodes[key] = path + [code]
        path = system_nodes[key]
        node(path, path[-1], term[0], term[7])
    # Glucose in serum or plasma is also listed directly under Carbohydrates: a second parent.
    node([root_code, lab, chem, carbohydrates], carbohydrates, "2345-7", KNOWN_TERMS[0][7])
    # The same link twice, as repeated subtrees give: counted once.
    node([root_code, lab, chem, carbohydrates], carbohydrates, "2345-7", KNOWN_TERMS[0][7])
    write_csv(root / "AccessoryFiles" / "ComponentHierarchyBySystem" /
              "ComponentHierarchyBySystem.csv",
              ["PATH_TO_ROOT", "SEQUENCE", "IMMEDIATE_PARENT", "CODE", "CODE_TEXT"], hierarchy)
    print(f"loinc: {len(terms)} terms, {len(parts)} parts, {len(link_rows)} links, "
          f"{len(hierarchy)} hierarchy rows")


# ---------------------------------------------------------------------------------------------
# ICD-10-CM
# ---------------------------------------------------------------------------------------------

# (code without dot, header?, short, long)
KNOWN_ICD = [
    ("A00", True, "Cholera", "Cholera"),
    ("A000", False, "Cholera due to Vibrio cholerae 01, biovar cholerae",
     "Cholera due to Vibrio cholerae 01, biovar cholerae"),
    ("A001", False, "Cholera due to Vibrio cholerae 01, biovar eltor",
     "Cholera due to Vibrio cholerae 01, biovar eltor"),
    ("A009", False, "Cholera, unspecified", "Cholera, unspecified"),
    ("E11", True, "Type 2 diabetes mellitus", "Type 2 diabetes mellitus"),
    ("E110", True, "Type 2 diabetes mellitus with hyperosmolarity",
     "Type 2 diabetes mellitus with hyperosmolarity"),
    ("E1100", False, "Type 2 diab w hyprosm w/o nonket hyprgly-hypros coma (NKHHC)",
     "Type 2 diabetes mellitus with hyperosmolarity without nonketotic hyperglycemic-hyperosmolar coma (NKHHC)"),
    ("E1101", False, "Type 2 diabetes mellitus with hyperosmolarity with coma",
     "Type 2 diabetes mellitus with hyperosmolarity with coma"),
    ("E112", True, "Type 2 diabetes mellitus with kidney complications",
     "Type 2 diabetes mellitus with kidney complications"),
    ("E1121", False, "Type 2 diabetes mellitus with diabetic nephropathy",
     "Type 2 diabetes mellitus with diabetic nephropathy"),
    ("E1122", False, "Type 2 diabetes mellitus w diabetic chronic kidney disease",
     "Type 2 diabetes mellitus with diabetic chronic kidney disease"),
    ("E113", True, "Type 2 diabetes mellitus with ophthalmic complications",
     "Type 2 diabetes mellitus with ophthalmic complications"),
    ("E1131", True, "Type 2 diabetes mellitus with unsp diabetic retinopathy",
     "Type 2 diabetes mellitus with unspecified diabetic retinopathy"),
    ("E11311", False, "Type 2 diab with unsp diabetic rtnop with macular edema",
     "Type 2 diabetes mellitus with unspecified diabetic retinopathy with macular edema"),
    ("E11319", False, "Type 2 diab with unsp diabetic rtnop without macular edema",
     "Type 2 diabetes mellitus with unspecified diabetic retinopathy without macular edema"),
    ("E116", True, "Type 2 diabetes mellitus with other specified complications",
     "Type 2 diabetes mellitus with other specified complications"),
    ("E1165", False, "Type 2 diabetes mellitus with hyperglycemia",
     "Type 2 diabetes mellitus with hyperglycemia"),
    ("E118", False, "Type 2 diabetes mellitus with unspecified complications",
     "Type 2 diabetes mellitus with unspecified complications"),
    ("E119", False, "Type 2 diabetes mellitus without complications",
     "Type 2 diabetes mellitus without complications"),
    ("I10", False, "Essential (primary) hypertension", "Essential (primary) hypertension"),
    ("J45", True, "Asthma", "Asthma"),
    ("J452", True, "Mild intermittent asthma", "Mild intermittent asthma"),
    ("J4520", False, "Mild intermittent asthma, uncomplicated",
     "Mild intermittent asthma, uncomplicated"),
    ("J4521", False, "Mild intermittent asthma with (acute) exacerbation",
     "Mild intermittent asthma with (acute) exacerbation"),
    ("J45909", False, "Unspecified asthma, uncomplicated", "Unspecified asthma, uncomplicated"),
    ("S72", True, "Fracture of femur", "Fracture of femur"),
    ("S720", True, "Fracture of head and neck of femur", "Fracture of head and neck of femur"),
    ("S7200", True, "Fracture of unspecified part of neck of femur",
     "Fracture of unspecified part of neck of femur"),
    ("S72001", True, "Fracture of unsp part of neck of right femur",
     "Fracture of unspecified part of neck of right femur"),
    ("S72001A", False, "Fx unsp part of neck of right femur, init for clos fx",
     "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"),
]


def icd10cm_fixture() -> None:
    rows = list(KNOWN_ICD)
    # Synthetic categories U80-U99: each a header with ten subcategories; every third
    # subcategory is a header with two billable five-character codes below it.
    for category in range(80, 100):
        code = f"U{category}"
        rows.append((code, True, f"Synthetic category {code}", f"Synthetic category {code}"))
        for sub in range(10):
            sub_code = f"{code}{sub}"
            has_children = sub % 3 == 0
            rows.append((sub_code, has_children, f"Synthetic condition {sub_code}",
                         f"Synthetic condition {sub_code}, described at length"))
            if has_children:
                for fifth in (1, 9):
                    leaf = f"{sub_code}{fifth}"
                    rows.append((leaf, False, f"Synthetic condition {leaf}",
                                 f"Synthetic condition {leaf}, described at length"))
    lines = []
    for order, (code, header, short, long_text) in enumerate(rows, start=1):
        assert len(code) <= 7 and len(short) <= 60, (code, short)
        flag = "0" if header else "1"
        lines.append(f"{order:05} {code:<7} {flag} {short:<60} {long_text}")
    path = HERE / "icd10cm" / "icd10cm_order_2024.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    headers = sum(1 for row in rows if row[1])
    print(f"icd10cm: {len(rows)} codes, {headers} headers")


# ---------------------------------------------------------------------------------------------
# RxNorm
# ---------------------------------------------------------------------------------------------


class Rrf:
    def __init__(self) -> None:
        self.conso: list[str] = []
        self.rel: list[str] = []
        self.atom = 10_000_000
        self.relationship = 90_000_000

    def string(self, rxcui: str, tty: str, text: str, sab: str = "RXNORM",
               suppress: str = "N") -> None:
        self.atom += 1
        fields = [rxcui, "ENG", "", "", "", "", "", str(self.atom), "", "", "", sab, tty,
                  rxcui if sab == "RXNORM" else f"X{self.atom}", text, "0", suppress, "4096"]
        self.conso.append("|".join(fields) + "|")

    def relate(self, subject: str, rela: str, inverse: str, value: str,
               sab: str = "RXNORM") -> None:
        """subject has `rela` value; written as RRF does, RXCUI1 = value, RXCUI2 = subject,
        with the inverse row beside it."""
        for rxcui1, label, rxcui2 in ((value, rela, subject), (subject, inverse, value)):
            self.relationship += 1
            fields = [rxcui1, "", "CUI", "RO", rxcui2, "", "CUI", label,
                      str(self.relationship), "", sab, "RXNORM", "", "", "N", ""]
            self.rel.append("|".join(fields) + "|")


def rxnorm_fixture() -> None:
    rrf = Rrf()
    oral_tablet = "317541"
    rrf.string(oral_tablet, "DF", "Oral Tablet")
    # Amlodipine, the well-known example.
    rrf.string("17767", "IN", "amlodipine")
    rrf.string("17767", "SY", "amlodipine (synthetic synonym)")
    rrf.string("17767", "IN", "AMLODIPINE", sab="MTHSPL")
    rrf.string("69749", "PIN", "amlodipine besylate")
    rrf.relate("69749", "form_of", "has_form", "17767")
    rrf.string("58927", "BN", "Norvasc")
    for rxcui, strength, scdc in (("197361", "5", "329526"), ("308135", "10", "329527")):
        rrf.string(scdc, "SCDC", f"amlodipine {strength} MG")
        rrf.relate(scdc, "has_ingredient", "ingredient_of", "17767")
        # The PSN first and the SCD last: the display is still the SCD's string.
        rrf.string(rxcui, "PSN", f"amLODIPine {strength} MG Oral Tablet")
        rrf.string(rxcui, "SY", f"amlodipine {strength} MG (as amlodipine besylate) Oral Tablet")
        rrf.string(rxcui, "TMSY", f"amlodipine {strength} MG Oral Tablet (synthetic tallman)")
        rrf.string(rxcui, "SCD", f"amlodipine {strength} MG Oral Tablet")
        rrf.string(rxcui, "SCD", f"AMLODIPINE {strength} MG ORAL TABLET", sab="VANDF")
        rrf.relate(rxcui, "consists_of", "constitutes", scdc)
        rrf.relate(rxcui, "has_dose_form", "dose_form_of", oral_tablet)
    rrf.string("212549", "SBD", "amlodipine 5 MG Oral Tablet [Norvasc]")
    rrf.relate("212549", "tradename_of", "has_tradename", "197361")
    rrf.relate("212549", "has_ingredient", "ingredient_of", "58927")
    rrf.relate("212549", "has_dose_form", "dose_form_of", oral_tablet)
    # Two dose form groups above the clinical drugs: several parents.
    rrf.string("1152681", "SCDG", "amlodipine Oral Product")
    rrf.string("1152682", "SCDG", "amlodipine Pill")
    for rxcui in ("197361", "308135"):
        rrf.relate(rxcui, "isa", "inverse_isa", "1152681")
        rrf.relate(rxcui, "isa", "inverse_isa", "1152682")
    # Aspirin and metformin, briefly.
    rrf.string("1191", "IN", "aspirin")
    rrf.string("243670", "SCD", "aspirin 81 MG Oral Tablet")
    rrf.relate("243670", "has_ingredient", "ingredient_of", "1191")
    rrf.string("6809", "IN", "metformin")
    # A concept whose strings are all suppressed: inactive.
    rrf.string("1000001", "SCD", "Synthetic obsolete drug 1 MG Oral Tablet", suppress="O")
    rrf.string("1000001", "SY", "Synthetic obsolete drug tablet", suppress="E")
    # A concept with one suppressed synonym: active, and its display the SCD.
    rrf.string("1000002", "SY", "Synthetic drug 2 suppressed synonym", suppress="Y")
    rrf.string("1000002", "SCD", "Synthetic drug 2 MG Oral Tablet")

    # Synthetic ingredients, each with a component, a clinical drug, a brand and a branded drug.
    for index in range(60):
        base = 9_900_000 + index * 10
        ingredient, component, drug, brand, branded = (str(base + k) for k in range(5))
        name = f"synthetic ingredient {index:03}"
        rrf.string(ingredient, "IN", name)
        rrf.string(ingredient, "IN", name.upper(), sab="MTHSPL")
        rrf.string(component, "SCDC", f"{name} 25 MG")
        rrf.string(drug, "SCD", f"{name} 25 MG Oral Tablet")
        rrf.string(drug, "PSN", f"{name.title()} 25 MG Oral Tablet")
        rrf.string(brand, "BN", f"Synthbrand{index:03}")
        rrf.string(branded, "SBD", f"{name} 25 MG Oral Tablet [Synthbrand{index:03}]")
        rrf.relate(component, "has_ingredient", "ingredient_of", ingredient)
        rrf.relate(drug, "consists_of", "constitutes", component)
        rrf.relate(drug, "has_dose_form", "dose_form_of", oral_tablet)
        rrf.relate(branded, "tradename_of", "has_tradename", drug)
        rrf.relate(branded, "has_ingredient", "ingredient_of", brand)
    # Rows that are skipped: another source's relationship, a relationship without RELA, one
    # naming an RXCUI without RxNorm strings, and an atom-level repeat of a CUI-level row.
    rrf.rel.append("17767||CUI|RO|197361||CUI|has_ingredient|99000001||MTHSPL||||N||")
    rrf.rel.append("17767||CUI|SIB|6809||CUI||99000002||RXNORM||||N||")
    rrf.rel.append("17767||CUI|RO|4242424||CUI|ingredient_of|99000003||RXNORM||||N||")
    rrf.rel.append("17767|10000002|AUI|RO|329526|10000010|AUI|has_ingredient|99000004||RXNORM||||N||")

    root = HERE / "rxnorm" / "RxNorm_full_01022024" / "rrf"
    root.mkdir(parents=True, exist_ok=True)
    (root / "RXNCONSO.RRF").write_bytes(("\n".join(rrf.conso) + "\n").encode("utf-8"))
    (root / "RXNREL.RRF").write_bytes(("\n".join(rrf.rel) + "\n").encode("utf-8"))
    print(f"rxnorm: {len(rrf.conso)} strings, {len(rrf.rel)} relationships")


if __name__ == "__main__":
    loinc_fixture()
    icd10cm_fixture()
    rxnorm_fixture()
