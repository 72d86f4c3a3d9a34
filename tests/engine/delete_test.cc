// Deleting a snapshot: a deletion block in the segments, then the index entries go. The segments
// being the truth, the deletion survives a crash and an index rebuilt from them.
#include "engine/delete.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::GetString;
using test::PutString;
using test::RandomBytes;
using test::TestVolume;

constexpr int64_t kDec1 = 1764547200000000;  // 2025-12-01T00:00:00Z

// Snapshot ids the index lists, all sources.
std::vector<uint64_t> Listed(Volume* v) {
  std::vector<uint64_t> ids;
  EXPECT_TRUE(v->index()->ForEachSnapshot("", [&](const SnapshotEntry& e) {
    ids.push_back(e.record.id);
    return true;
  }).ok());
  std::sort(ids.begin(), ids.end());
  return ids;
}

size_t RecipePieces(Volume* v, uint64_t id) {
  size_t n = 0;
  EXPECT_TRUE(v->index()->ForEachRecipe(id, 0, [&](uint32_t, uint64_t, const Location&) {
    n++;
    return Status::Ok();
  }).ok());
  return n;
}

class DeleteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(tv.Init());
    ASSERT_OK_AND_ASSIGN(v, tv.Open());
    for (int i = 0; i < 3; i++) {
      data.push_back(RandomBytes(1 << 20, 60 + static_cast<uint64_t>(i)));
      ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), i < 2 ? "del/a" : "del/b", data.back(), kDec1 + i));
      recs.push_back(rec);
    }
  }
  // Everything about the deleted snapshot (the newest of del/a) is gone; the others are whole.
  void ExpectDeleted() {
    ASSERT_OK_AND_ASSIGN(auto gone, v->index()->GetSnapshot(recs[1].id));
    EXPECT_FALSE(gone.has_value());
    EXPECT_EQ(RecipePieces(v.get(), recs[1].id), 0u);
    ASSERT_OK_AND_ASSIGN(auto newest, v->index()->FindAsOf("del/a", INT64_MAX));
    EXPECT_EQ(newest, std::optional<uint64_t>(recs[0].id));
    std::vector<uint64_t> want = {recs[0].id, recs[2].id};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(Listed(v.get()), want);
    for (size_t i : {size_t{0}, size_t{2}}) {
      ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), recs[i].id));
      EXPECT_TRUE(back == data[i]) << i;
    }
    EXPECT_FALSE(GetString(v.get(), recs[1].id).ok());
  }

  TestVolume tv;
  std::unique_ptr<Volume> v;
  std::vector<std::string> data;
  std::vector<format::SnapshotRecord> recs;
};

TEST_F(DeleteTest, ADeletedSnapshotIsGoneFromTheIndex) {
  ASSERT_GT(RecipePieces(v.get(), recs[1].id), 0u);
  ASSERT_OK(DeleteSnapshot(v.get(), recs[1], "expired"));
  ExpectDeleted();
}

TEST_F(DeleteTest, ADeletionStaysAfterTheIndexIsRebuiltFromTheSegments) {
  ASSERT_OK(DeleteSnapshot(v.get(), recs[1], "expired"));
  ASSERT_OK(v->Close());
  v.reset();
  std::filesystem::remove_all(tv.dir() + "/index");
  OpenOptions o;
  o.rebuild_index = true;
  ASSERT_OK_AND_ASSIGN(v, tv.Open(o));
  EXPECT_EQ(v->recovery().snapshots_found, 3u);  // the commit is still there; the deletion follows it
  ExpectDeleted();
}

TEST_F(DeleteTest, ADeletionIsDurableWhenItReturns) {
  ASSERT_OK(DeleteSnapshot(v.get(), recs[1], "expired"));
  v.reset();  // no Close: as if the process died
  ASSERT_OK_AND_ASSIGN(v, tv.Open());
  ExpectDeleted();
}

TEST_F(DeleteTest, OnlyOneOfTwoDeletionsOfASnapshotSucceeds) {
  ASSERT_OK(DeleteSnapshot(v.get(), recs[1], "first"));
  Status again = DeleteSnapshot(v.get(), recs[1], "second");
  EXPECT_EQ(again.code(), Status::Code::kNotFound) << again.ToString();
  EXPECT_NE(again.message().find("deleted already"), std::string::npos) << again.message();
  ExpectDeleted();
}

TEST_F(DeleteTest, ABadReasonIsRefusedAndNothingIsDeleted) {
  Status s = DeleteSnapshot(v.get(), recs[1], "line\nbreak");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("deletion reason"), std::string::npos) << s.message();
  ASSERT_OK_AND_ASSIGN(auto still, v->index()->GetSnapshot(recs[1].id));
  EXPECT_TRUE(still.has_value());
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), recs[1].id));
  EXPECT_TRUE(back == data[1]);
}

}  // namespace
}  // namespace bv::engine
