// Names a push brings: hidden and direction-changing characters are refused where they enter, and
// a source may not take the id: form.
#include "format/name_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace bv::format {
namespace {

TEST(NameRules, VisibleNamesInAnyScriptPass) {
  for (const char* name : {"pg/orders", "café/commandes", "日本/注文", "db 1", "ορθή", "x\xf0\x9f\x90\x98"}) {
    EXPECT_TRUE(ValidateNewName(name, "stream name").ok()) << name;
    EXPECT_TRUE(ValidateNewSourceName(name).ok()) << name;
  }
}

TEST(NameRules, HiddenAndDirectionChangingCharactersAreRefusedWithTheirPlace) {
  struct Case {
    std::string name;
    const char* named;
    size_t at;
  };
  const Case cases[] = {
      {"pg/ord\xe2\x80\x8b" "ers", "U+200B", 6},   // zero width space
      {"pg/\xe2\x80\xae" "sredro", "U+202E", 3},   // right-to-left override
      {"\xef\xbb\xbfpg", "U+FEFF", 0},             // byte order mark
      {"pg\xc2\xa0orders", "U+00A0", 2},           // no-break space
      {"pg\xc2\xad", "U+00AD", 2},                 // soft hyphen
      {"a\xf3\xa0\x81\x81", "U+E0041", 1},         // tag latin capital A
      {"a\xe2\x81\xa6" "b", "U+2066", 1},          // left-to-right isolate
      {"a\xe3\x85\xa4", "U+3164", 1},              // Hangul filler
  };
  for (const Case& c : cases) {
    Status s = ValidateNewName(c.name, "stream name");
    ASSERT_FALSE(s.ok()) << c.named;
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(s.message().find(std::string("stream name holds the invisible or direction-changing character ") +
                               c.named + " at byte " + std::to_string(c.at)),
              std::string::npos)
        << s.message();
    EXPECT_FALSE(ValidateNewSourceName(c.name).ok()) << c.named;
  }
}

TEST(NameRules, ASpaceAtEitherEndIsRefused) {
  for (const char* name : {" pg", "pg ", " "}) {
    Status s = ValidateNewName(name, "stream name");
    ASSERT_FALSE(s.ok()) << "'" << name << "'";
    EXPECT_NE(s.message().find("starts or ends with a space"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(ValidateNewName("pg orders", "label").ok());
  EXPECT_TRUE(ValidateNewName("", "label").ok());  // an empty label or stream name is allowed
}

TEST(NameRules, ASourceMayNotTakeTheIdForm) {
  Status s = ValidateNewSourceName("id:52a7");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("names a snapshot id"), std::string::npos) << s.message();
  EXPECT_TRUE(ValidateNewSourceName("ids/52a7").ok());
  EXPECT_TRUE(ValidateNewName("id:52a7", "label").ok());  // only a source name is read as a reference
}

}  // namespace
}  // namespace bv::format
