// Recovery against an index that does not match its segments: a segment file gone, the active
// segment cut short under a kept index, an index older than its segments put back. Each time the
// snapshots the damage does not touch restore, the volume keeps taking backups, nothing is
// deduplicated against lost bytes, and no acknowledged byte is thrown away.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "engine/check.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::RandomBytes;

std::string Segment(const test::TestVolume& tv, uint64_t n) {
  return tv.dir() + "/segments/" + format::SegmentFileName(n);
}

uint64_t LastSegment(const test::TestVolume& tv) {
  uint64_t last = 0;
  while (std::filesystem::exists(Segment(tv, last + 1))) last++;
  return last;
}

// Puts `n` snapshots of 700 KB each into a volume of 1 MiB segments, then closes it.
std::map<uint64_t, std::string> Fill(test::TestVolume* tv, int n) {
  InitOptions io;
  io.segment_size = 1 << 20;
  EXPECT_TRUE(tv->Init(io).ok());
  std::map<uint64_t, std::string> data;
  auto v = tv->Open();
  EXPECT_TRUE(v.ok());
  for (int i = 0; i < n; i++) {
    std::string d = RandomBytes(700 << 10, 500 + static_cast<uint64_t>(i));
    auto rec = test::PutString(v->get(), "r/" + std::to_string(i), d);
    EXPECT_TRUE(rec.ok()) << rec.status().ToString();
    if (rec.ok()) data[rec->id] = d;
  }
  EXPECT_TRUE((*v)->Close().ok());
  return data;
}

// [OPEN-3] The last segment's file is removed. A put of bytes it held must store them again (not
// deduplicate against the lost copy), in a new segment number, and restore.
TEST(Recovery, AMissingSegmentIsNeverDeduplicatedAgainstNorItsNumberReused) {
  test::TestVolume tv;
  auto data = Fill(&tv, 4);
  const uint64_t last = LastSegment(tv);
  ASSERT_GE(last, 3u);
  std::filesystem::remove(Segment(tv, last));
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  EXPECT_TRUE(v->recovery().damaged);
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{}, &r));
  ASSERT_FALSE(r.clean());
  std::set<uint64_t> named;
  for (const Damage& d : r.damage) named.insert(d.snapshots.begin(), d.snapshots.end());
  std::vector<uint64_t> broken;
  for (const auto& [id, d] : data) {
    auto back = test::GetString(v.get(), id);
    if (!back.ok()) {
      broken.push_back(id);
      EXPECT_TRUE(back.status().IsCorruption()) << back.status().ToString();
    } else {
      EXPECT_TRUE(*back == d);
    }
  }
  ASSERT_FALSE(broken.empty());
  for (uint64_t id : broken) EXPECT_TRUE(named.count(id)) << "fsck does not name " << format::SnapshotIdHex(id);
  for (uint64_t id : broken) {
    ASSERT_OK_AND_ASSIGN(auto rec, test::PutString(v.get(), "r/again", data[id]));
    EXPECT_GT(rec.new_bytes, 0u) << "deduplicated against a segment that is gone";
    ASSERT_OK_AND_ASSIGN(std::string fresh, test::GetString(v.get(), rec.id));
    EXPECT_TRUE(fresh == data[id]);
    // Healed, unless its recipe went with the file; never wrong bytes.
    auto old = test::GetString(v.get(), id);
    if (old.ok()) {
      EXPECT_TRUE(*old == data[id]);
    } else {
      EXPECT_NE(old.status().message().find("recipe"), std::string::npos) << old.status().ToString();
    }
  }
  EXPECT_FALSE(std::filesystem::exists(Segment(tv, last))) << "the lost segment's number was used again";
  EXPECT_TRUE(std::filesystem::exists(Segment(tv, last + 1)));
  ASSERT_OK(v->Close());
}

// [OPEN-3] The active segment is cut short under a kept index. Listing, the restores of untouched
// snapshots and a put all work; what the cut took is named and not deduplicated against.
TEST(Recovery, AnActiveSegmentCutShortUnderAKeptIndexStopsOnlyWhatItHeld) {
  test::TestVolume tv;
  auto data = Fill(&tv, 4);
  const uint64_t last = LastSegment(tv);
  const uint64_t size = std::filesystem::file_size(Segment(tv, last));
  std::filesystem::resize_file(Segment(tv, last), size / 3);
  for (bool crashed : {false, true}) {
    SCOPED_TRACE(crashed ? "after a crash" : "after a clean close");
    if (crashed) std::filesystem::remove(tv.dir() + "/CLEAN");
    OpenOptions reader;
    reader.read_only = true;
    ASSERT_OK_AND_ASSIGN(auto r, tv.Open(reader));
    size_t listed = 0;
    ASSERT_OK(r->index()->ForEachSnapshot("", [&](const SnapshotEntry&) { return ++listed > 0; }));
    EXPECT_EQ(listed, data.size());
    size_t restored = 0;
    for (const auto& [id, d] : data) {
      auto back = test::GetString(r.get(), id);
      if (back.ok()) {
        EXPECT_TRUE(*back == d);
        restored++;
      }
    }
    EXPECT_GE(restored, 2u);
    EXPECT_LT(restored, data.size());
    ASSERT_OK(r->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  for (const auto& [id, d] : data) {
    if (test::GetString(v.get(), id).ok()) continue;
    ASSERT_OK_AND_ASSIGN(auto rec, test::PutString(v.get(), "r/again", d));
    EXPECT_GT(rec.new_bytes, 0u);
    ASSERT_OK_AND_ASSIGN(std::string fresh, test::GetString(v.get(), rec.id));
    EXPECT_TRUE(fresh == d);
    auto old = test::GetString(v.get(), id);
    if (old.ok()) {
      EXPECT_TRUE(*old == d);
    } else {
      EXPECT_NE(old.status().message().find("recipe"), std::string::npos) << old.status().ToString();
    }
  }
  ASSERT_OK(v->Close());
}

// [SCAN-4] An index older than its segments is put back and the process had crashed; a bad block lies
// in what the old index does not know. The writer cuts that tail ([SCAN-4]) but keeps a copy in
// lost+found/, which fsck names with the snapshot whose commit it holds.
TEST(Recovery, ACutTailWithValidBlocksIsKeptInLostAndFound) {
  test::TestVolume tv;
  auto data = Fill(&tv, 2);
  const std::string old_index = tv.tmp / "old-index";
  std::filesystem::copy(tv.dir() + "/index", old_index, std::filesystem::copy_options::recursive);
  uint64_t late_id = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    ASSERT_OK_AND_ASSIGN(auto rec, test::PutString(v.get(), "r/late", RandomBytes(200 << 10, 9)));
    late_id = rec.id;
    ASSERT_OK(v->Close());
  }
  std::filesystem::remove_all(tv.dir() + "/index");
  std::filesystem::copy(old_index, tv.dir() + "/index", std::filesystem::copy_options::recursive);
  std::filesystem::remove(tv.dir() + "/CLEAN");
  const std::string last = Segment(tv, LastSegment(tv));
  const uint64_t size = std::filesystem::file_size(last);
  test::FlipByte(last, size - (150 << 10));
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  EXPECT_GT(v->recovery().truncated_bytes, 0u);
  const std::string kept_dir = tv.dir() + "/lost+found";
  ASSERT_TRUE(std::filesystem::exists(kept_dir));
  uint64_t kept = 0;
  for (const auto& e : std::filesystem::directory_iterator(kept_dir)) kept += e.file_size();
  EXPECT_EQ(kept, v->recovery().truncated_bytes);
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{}, &r));
  bool named = false;
  for (const std::string& n : r.notes) {
    named |= n.find("lost+found/") != std::string::npos && n.find(format::SnapshotIdHex(late_id)) != std::string::npos;
  }
  EXPECT_TRUE(named) << "fsck does not name the kept commit";
  for (const auto& [id, d] : data) {
    ASSERT_OK_AND_ASSIGN(std::string back, test::GetString(v.get(), id));
    EXPECT_TRUE(back == d);
  }
  // The same mistake again, cut at the same place: the first copy is never overwritten.
  std::map<std::string, uint64_t> first_copies;
  for (const auto& e : std::filesystem::directory_iterator(kept_dir)) first_copies[e.path().string()] = e.file_size();
  ASSERT_OK_AND_ASSIGN(auto again, test::PutString(v.get(), "r/later", RandomBytes(200 << 10, 10)));
  (void)again;
  ASSERT_OK(v->Close());
  v.reset();
  std::filesystem::remove_all(tv.dir() + "/index");
  std::filesystem::copy(old_index, tv.dir() + "/index", std::filesystem::copy_options::recursive);
  std::filesystem::remove(tv.dir() + "/CLEAN");
  test::FlipByte(last, size - (150 << 10));
  ASSERT_OK_AND_ASSIGN(v, tv.Open());
  size_t copies = 0;
  for (const auto& e : std::filesystem::directory_iterator(kept_dir)) {
    copies++;
    if (first_copies.count(e.path().string())) {
      EXPECT_EQ(e.file_size(), first_copies[e.path().string()]);
    }
  }
  EXPECT_EQ(copies, first_copies.size() + 1);
  ASSERT_OK(v->Close());
}

// [OPEN-2] A rebuild that dies half way leaves REBUILDING behind: no open trusts the half-built
// index, and the next rebuild finishes the job.
// [SCAN-4] A power cut right after a rotation: the new last segment was never synced, so the
// kept index records nothing of it, and the cut tore its header while blocks after it survived.
// Nothing in it was acknowledged: a reader changes nothing, the next writer removes it after
// keeping its blocks in lost+found/, and fsck finds the volume clean.
TEST(Recovery, ANeverSyncedLastSegmentWithATornHeaderGoes) {
  test::TestVolume tv;
  const auto data = Fill(&tv, 2);
  const uint64_t last = LastSegment(tv);
  std::string bytes;
  {
    std::ifstream f(Segment(tv, last), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  ASSERT_GT(bytes.size(), 3u * format::kSegmentHeaderSize);
  // The next segment as a writer that died left it: blocks after a header of zeros.
  std::string next = std::string(format::kSegmentHeaderSize, '\0') + bytes.substr(format::kSegmentHeaderSize);
  std::ofstream(Segment(tv, last + 1), std::ios::binary) << next;
  std::filesystem::remove(tv.dir() + "/CLEAN");
  {
    OpenOptions o;
    o.read_only = true;
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
    EXPECT_TRUE(v->recovery().torn_tail);
    EXPECT_FALSE(v->recovery().damaged);
    ASSERT_OK(v->Close());
  }
  EXPECT_TRUE(std::filesystem::exists(Segment(tv, last + 1)));  // a reader changes nothing
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  EXPECT_FALSE(v->recovery().damaged);
  EXPECT_FALSE(std::filesystem::exists(Segment(tv, last + 1)));
  const std::string kept = tv.dir() + "/lost+found/" + format::SegmentFileName(last + 1) + ".from-4096";
  ASSERT_TRUE(std::filesystem::exists(kept));
  EXPECT_EQ(std::filesystem::file_size(kept), next.size() - format::kSegmentHeaderSize);
  for (const auto& [id, d] : data) {
    ASSERT_OK_AND_ASSIGN(std::string back, test::GetString(v.get(), id));
    EXPECT_TRUE(back == d);
  }
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{true, true, {}}, &r));
  EXPECT_TRUE(r.clean()) << (r.damage.empty() ? r.problems.front() : r.damage.front().what);
  const std::string more = RandomBytes(300 << 10, 77);
  ASSERT_OK_AND_ASSIGN(auto rec, test::PutString(v.get(), "r/more", more));
  ASSERT_OK_AND_ASSIGN(std::string back, test::GetString(v.get(), rec.id));
  EXPECT_TRUE(back == more);
}

TEST(Recovery, AnUnfinishedRebuildIsNeverTrusted) {
  test::TestVolume tv;
  auto data = Fill(&tv, 3);
  std::filesystem::remove_all(tv.dir() + "/index");
  {
    OpenOptions o;
    o.rebuild_index = true;
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
    // The process dies here, before the marker is removed: as if the rebuild never finished.
  }
  { std::ofstream(tv.dir() + "/REBUILDING") << "rebuilding the index\n"; }
  for (bool read_only : {true, false}) {
    OpenOptions o;
    o.read_only = read_only;
    auto v = tv.Open(o);
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.status().message().find("--rebuild-index"), std::string::npos) << v.status().message();
  }
  OpenOptions o;
  o.rebuild_index = true;
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  EXPECT_FALSE(std::filesystem::exists(tv.dir() + "/REBUILDING"));
  for (const auto& [id, d] : data) {
    ASSERT_OK_AND_ASSIGN(std::string back, test::GetString(v.get(), id));
    EXPECT_TRUE(back == d);
  }
  ASSERT_OK(v->Close());
}

}  // namespace
}  // namespace bv::engine
