#!/usr/bin/env python3
"""Builds the jobs benchmark's data from the machine's gettext catalogs (msgunfmt output):
a PO document of N English messages to translate into Spanish, and a TM (PO) holding the real
Spanish translations of 40 % of them (every 5th message and the one after it).

  make_jobs_corpus.py CATALOG_DIR N OUT_DOCUMENT OUT_TM OUT_MT_LINES
CATALOG_DIR holds one PO file per catalog (msgunfmt of /usr/share/locale/es/LC_MESSAGES/*.mo).
OUT_MT_LINES gets the sources the TM does not cover (what the engine translates), one per line.
"""
import os
import re
import sys

def unquote(s):
    out, i = [], 0
    s = s.strip()
    assert s.startswith('"') and s.endswith('"'), s
    s = s[1:-1]
    while i < len(s):
        c = s[i]
        if c == '\\' and i + 1 < len(s):
            n = s[i + 1]
            out.append({'n': '\n', 't': '\t', '"': '"', '\\': '\\'}.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return ''.join(out)

def entries(path):
    msgid = msgstr = None
    key = None
    plural = fuzzy = False
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            line = line.rstrip('\n')
            if line.startswith('#,') and 'fuzzy' in line:
                fuzzy = True
            elif line.startswith('msgid_plural'):
                plural = True
            elif line.startswith('msgid '):
                if msgid is not None and msgstr is not None and not plural and not fuzzy:
                    yield msgid, msgstr
                msgid, msgstr, key, plural, fuzzy = unquote(line[6:]), None, 'id', False, False
            elif line.startswith('msgstr '):
                msgstr, key = unquote(line[7:]), 'str'
            elif line.startswith('msgstr['):
                plural = True
            elif line.startswith('"') and key:
                if key == 'id':
                    msgid += unquote(line)
                elif msgstr is not None:
                    msgstr += unquote(line)
            elif not line.strip():
                key = None
    if msgid is not None and msgstr is not None and not plural and not fuzzy:
        yield msgid, msgstr

def po_quote(s):
    for a, b in (('\\', '\\\\'), ('"', '\\"'), ('\t', '\\t'), ('\n', '\\n'), ('\r', '\\r')):
        s = s.replace(a, b)
    return '"' + s + '"'

def main():
    catalog_dir, n, doc_path, tm_path, mt_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    seen, pairs = set(), []
    for name in sorted(os.listdir(catalog_dir)):
        for msgid, msgstr in entries(os.path.join(catalog_dir, name)):
            words = len(msgid.split())
            # Sentences: one line, 3 to 40 words, no format directives or markup to trip on.
            if '\n' in msgid or not msgstr or not 3 <= words <= 40 or msgid in seen:
                continue
            if re.search(r'%|\$\{|<|\\', msgid) or not re.search(r'[A-Za-z]', msgid):
                continue
            seen.add(msgid)
            pairs.append((msgid, msgstr))
    if len(pairs) < n:
        sys.exit(f'only {len(pairs)} usable messages, {n} wanted')
    pairs = pairs[:n]
    with open(doc_path, 'w', encoding='utf-8') as doc, open(tm_path, 'w', encoding='utf-8') as tm, \
            open(mt_path, 'w', encoding='utf-8') as mt:
        header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        doc.write(header)
        tm.write(header)
        for i, (msgid, msgstr) in enumerate(pairs):
            doc.write(f'#: bench:{i}\nmsgid {po_quote(msgid)}\nmsgstr ""\n\n')
            if i % 5 < 2:
                tm.write(f'msgid {po_quote(msgid)}\nmsgstr {po_quote(msgstr)}\n\n')
            else:
                mt.write(msgid + '\n')
    print(len(pairs))

main()
