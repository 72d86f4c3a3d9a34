#!/usr/bin/env python3
"""Keeps the rooms small: no file under src/ or tools/ over 450 lines and no function over 80,
unless a comment says why (a file: "over 450 lines because" in its first lines; a function: "over
80 lines because" in the comment right above it). Functions are found the way this codebase is
formatted (clang-format, 2-space indent): a definition starts at the namespace level (column 0)
or the class level (column 2), and its body ends at the first '}' back in that column."""
import pathlib
import re
import sys

FILE_LINES_MAX = 450
FUNCTION_LINES_MAX = 80
KEYWORDS = r'(if|for|while|switch|else|do|return|case|namespace|class|struct|enum|union|extern|try|catch|using|template|public|private|protected|static_assert)\b'
START = re.compile(r'^( {0}| {2})(?! )(?!' + KEYWORDS + r')(?![}/#])\S.*\(')


def functions(lines):
    """(first line, line count, signature) of every function definition."""
    i = 0
    while i < len(lines):
        m = START.match(lines[i])
        if not m or lines[i].lstrip().startswith('BV_'):
            i += 1
            continue
        indent = m.group(1)
        k = i  # the line that opens the body
        while k < len(lines) and k < i + 6:
            text = lines[k].rstrip()
            if text.endswith('{') or text.endswith(';') or text.endswith('}'):
                break
            k += 1
        if k >= len(lines) or not lines[k].rstrip().endswith('{') or re.search(r'=\s*\{$', lines[k]):
            i += 1
            continue
        j = k + 1
        while j < len(lines) and not re.match('^' + indent + r'\}', lines[j]):
            j += 1
        yield i, j - i + 1, lines[i].strip()
        i = j + 1 if indent == '' else k + 1


def excused(lines, first, phrase):
    k = first - 1
    while k >= 0 and lines[k].strip().startswith('//'):
        if phrase in lines[k]:
            return True
        k -= 1
    return False


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else '.')
    problems = []
    checked = 0
    for folder in ('src', 'tools'):
        for path in sorted((root / folder).rglob('*')):
            if path.suffix not in ('.cc', '.h'):
                continue
            checked += 1
            lines = path.read_text().rstrip('\n').split('\n')
            rel = path.relative_to(root)
            if len(lines) > FILE_LINES_MAX and not any('over 450 lines because' in l for l in lines[:8]):
                problems.append(f'{rel}: {len(lines)} lines (at most {FILE_LINES_MAX})')
            for first, count, signature in functions(lines):
                if count > FUNCTION_LINES_MAX and not excused(lines, first, 'over 80 lines because'):
                    problems.append(f'{rel}:{first + 1}: {count}-line function (at most {FUNCTION_LINES_MAX}): {signature[:70]}')
    for p in problems:
        print(p)
    print(f'{checked} files checked, {len(problems)} over the limits')
    return 1 if problems or checked == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
