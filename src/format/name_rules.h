// Names a push brings (a source, a stream, a label): what a new one may be, beyond the rules every
// stored name follows (snapshot_format.h). Checked where names enter, never by decoders, so a
// name stored before a rule existed still reads.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.h"

namespace bv::format {

// Written before a snapshot id to read it as nothing else ("id:52a7"); no source name starts so.
inline constexpr std::string_view kIdPrefix = "id:";

// Whether `cp` is invisible or moves text around it: Unicode format characters (category Cf:
// U+200B zero width space, U+202E right-to-left override, U+FEFF, tags…), line and paragraph
// separators, spaces other than U+0020, and the fillers that render as nothing.
bool IsHiddenCodePoint(uint32_t cp);

// Refuses a new name that holds a hidden code point, naming it and its byte offset, or that starts
// or ends with a space. `name` has
// passed ValidateLabel (valid UTF-8, no controls). `what`: "stream name", "label"…
Status ValidateNewName(std::string_view name, const char* what);
// The same for a source (ValidateSourceName passed), which may not start with kIdPrefix either.
Status ValidateNewSourceName(std::string_view name);

}  // namespace bv::format
