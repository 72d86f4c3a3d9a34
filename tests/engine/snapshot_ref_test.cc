// Naming a snapshot on the command line: full ids, short ids, SOURCE and SOURCE@TIME; streams by
// name; byte ranges.
#include "engine/snapshot_ref.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

constexpr int64_t kDay = 86400ll * 1000000;
constexpr int64_t kDec1 = 1764547200000000;  // 2025-12-01T00:00:00Z

class SnapshotRefTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(index_, Index::Open(tmp_ / "index", true));
    IndexBatch b = index_->NewBatch();
    Put(&b, 0x1111aaaa00000001, "pg/shop", kDec1);
    Put(&b, 0x2222bbbb00000002, "pg/shop", kDec1 + 2 * kDay);
    Put(&b, 0x2222cccc00000003, "pg/users", kDec1 + kDay);  // shares "2222" with the one above
    Put(&b, 0x3333dddd00000004, "beef", kDec1);             // a source that looks like an id
    ASSERT_OK(index_->Write(&b, false));
  }
  static void Put(IndexBatch* b, uint64_t id, const std::string& source, int64_t time_us) {
    SnapshotEntry e;
    e.record.id = id;
    e.record.source = source;
    e.record.time_us = time_us;
    e.record.streams.resize(1);
    e.commit = Location{1, 4096, 100, 100};
    b->PutSnapshot(e);
  }
  // The id `ref` resolves to, or 0 with the failure recorded.
  uint64_t Resolve(const std::string& ref) {
    auto e = ResolveSnapshot(index_.get(), ref);
    if (!e.ok()) {
      ADD_FAILURE() << ref << ": " << e.status().ToString();
      return 0;
    }
    return e->record.id;
  }

  test::TempDir tmp_;
  std::unique_ptr<Index> index_;
};

TEST_F(SnapshotRefTest, AFullIdOrAUniquePrefixNamesItsSnapshot) {
  EXPECT_EQ(SnapshotIdString(0x1111aaaa00000001), "1111aaaa00000001");
  EXPECT_EQ(Resolve("1111aaaa00000001"), 0x1111aaaa00000001u);
  EXPECT_EQ(Resolve("1111"), 0x1111aaaa00000001u);
  EXPECT_EQ(Resolve("2222b"), 0x2222bbbb00000002u);
  EXPECT_EQ(Resolve("2222cccc0000000"), 0x2222cccc00000003u);
}

TEST_F(SnapshotRefTest, AnAmbiguousPrefixIsRefused) {
  auto e = ResolveSnapshot(index_.get(), "2222");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(e.status().message().find("'2222' is ambiguous"), std::string::npos) << e.status().message();
}

TEST_F(SnapshotRefTest, ASourceNamesItsNewestSnapshotAndSourceAtTimeTheNewestThen) {
  EXPECT_EQ(Resolve("pg/shop"), 0x2222bbbb00000002u);
  EXPECT_EQ(Resolve("pg/shop@2025-12-02"), 0x1111aaaa00000001u);
  EXPECT_EQ(Resolve("pg/shop@2025-12-03"), 0x2222bbbb00000002u);  // at the time itself
  EXPECT_EQ(Resolve("pg/shop@2025-12-02T23:59:59"), 0x1111aaaa00000001u);
  EXPECT_EQ(Resolve("pg/users"), 0x2222cccc00000003u);
  // Hex that is no id's prefix is tried as a source.
  EXPECT_EQ(Resolve("beef"), 0x3333dddd00000004u);
  EXPECT_EQ(Resolve("pg/shop@latest"), 0x2222bbbb00000002u);
}

TEST_F(SnapshotRefTest, ANameIsNeverReadAsAnotherSourcesId) {
  IndexBatch b = index_->NewBatch();
  Put(&b, 0x52a7000000000005, "pg/victim", kDec1);
  Put(&b, 0x1234000000000006, "52a7", kDec1 - kDay);  // a source named like the victim's id
  ASSERT_OK(index_->Write(&b, false));
  // Both could match: neither is taken, and the message says how to name each.
  auto e = ResolveSnapshot(index_.get(), "52a7");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(e.status().message().find("both a source and the start of snapshot id 52a7000000000005"), std::string::npos)
      << e.status().message();
  EXPECT_NE(e.status().message().find("52a7@latest"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("id:52a7"), std::string::npos) << e.status().message();
  EXPECT_EQ(Resolve("52a7@latest"), 0x1234000000000006u);
  EXPECT_EQ(Resolve("id:52a7"), 0x52a7000000000005u);
  EXPECT_EQ(Resolve("id:52a7000000000005"), 0x52a7000000000005u);
  // A source whose name is hex that no id starts with is the source.
  EXPECT_EQ(Resolve("beef"), 0x3333dddd00000004u);
}

TEST_F(SnapshotRefTest, TheIdFormTakesOnlyHexThatAnIdStartsWith) {
  for (const char* ref : {"id:", "id:111", "id:1111AAAA", "id:pg/shop", "id:1111aaaa000000011"}) {
    auto e = ResolveSnapshot(index_.get(), ref);
    ASSERT_FALSE(e.ok()) << ref;
    EXPECT_EQ(e.status().code(), Status::Code::kInvalidArgument) << ref << ": " << e.status().ToString();
  }
  auto none = ResolveSnapshot(index_.get(), "id:beef");  // the source "beef" is not an id
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound) << none.status().ToString();
  EXPECT_FALSE(ResolveSnapshot(index_.get(), "id:2222").ok());  // ambiguous
}

TEST_F(SnapshotRefTest, UnknownNamesAreNotFound) {
  for (const char* ref : {"pg/none", "4444", "111", "1111AAAA00000001", "1111aaaa000000011"}) {
    auto e = ResolveSnapshot(index_.get(), ref);
    ASSERT_FALSE(e.ok()) << ref;
    EXPECT_EQ(e.status().code(), Status::Code::kNotFound) << ref << ": " << e.status().ToString();
    EXPECT_NE(e.status().message().find("neither an id nor a source"), std::string::npos) << e.status().message();
  }
  auto early = ResolveSnapshot(index_.get(), "pg/shop@2025-11-30");
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), Status::Code::kNotFound);
  EXPECT_NE(early.status().message().find("'pg/shop' has no snapshot at or before 2025-11-30T00:00:00Z"),
            std::string::npos)
      << early.status().message();
  EXPECT_FALSE(ResolveSnapshot(index_.get(), "pg/shop@yesterday").ok());
}

TEST(SnapshotRef, StreamsAreFoundByNameAndTheEmptyNameIsTheFirst) {
  format::SnapshotRecord r;
  r.id = 0x42;
  for (const char* name : {"base", "wal"}) {
    format::StreamInfo st;
    st.name = name;
    r.streams.push_back(st);
  }
  ASSERT_OK_AND_ASSIGN(uint16_t first, FindStream(r, ""));
  EXPECT_EQ(first, 0);
  ASSERT_OK_AND_ASSIGN(uint16_t wal, FindStream(r, "wal"));
  EXPECT_EQ(wal, 1);
  auto none = FindStream(r, "xlog");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  EXPECT_NE(none.status().message().find("no stream named 'xlog'"), std::string::npos) << none.status().message();
}

TEST(SnapshotRef, ByteRangesAreParsedAndKeptWithinTheStream) {
  struct Good {
    const char* text;
    uint64_t begin, end;
  };
  for (const Good& g : {Good{"10-20", 10, 20}, Good{"0-100", 0, 100}, Good{"30-", 30, 100}, Good{"100-", 100, 100},
                        Good{"5-5", 5, 5}}) {
    ASSERT_OK_AND_ASSIGN(ByteRange r, ParseByteRange(g.text, 100));
    EXPECT_EQ(r.begin, g.begin) << g.text;
    EXPECT_EQ(r.end, g.end) << g.text;
  }
  for (const char* bad : {"", "-", "-5", "5", "a-b", "1-x", "+1-5", "1--5", "99999999999999999999-"}) {
    auto r = ParseByteRange(bad, 100);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("expected byte offsets"), std::string::npos) << bad;
  }
  for (const char* outside : {"20-10", "0-101", "101-"}) {
    auto r = ParseByteRange(outside, 100);
    ASSERT_FALSE(r.ok()) << outside;
    EXPECT_NE(r.status().message().find("not within the stream's 100 bytes"), std::string::npos) << outside;
  }
}

}  // namespace
}  // namespace bv::engine
