// fsck and verify: damage named by segment, offset and the snapshots it touches.
#include "engine/check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::GetString;
using test::PutString;
using test::RandomBytes;
using test::TestVolume;

// Puts snapshots into a volume of small segments and returns the one holding `victim`'s chunks.
class DamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine::InitOptions io;
    io.segment_size = 2 << 20;
    ASSERT_OK(tv.Init(io));
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    for (int i = 0; i < 4; i++) {
      std::string d = RandomBytes(1536 << 10, 70 + i);
      ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "dmg/" + std::to_string(i), d));
      ids.push_back(rec.id);
      data.push_back(d);
    }
    // The victim: a data block in the middle of the first segment, which holds snapshot 0's chunks.
    ASSERT_OK(v->index()->ForEachChunkAt(1, 0, UINT64_MAX, [&](uint64_t off, const format::Id&) {
      if (victim_offset == 0 && off > 100000) victim_offset = off;
      return Status::Ok();
    }));
    ASSERT_OK(v->Close());
    ASSERT_GT(victim_offset, 0u);
  }

  std::string Segment(uint64_t n) { return tv.dir() + "/segments/" + format::SegmentFileName(n); }

  // Reads the victim block (an encrypted data block), lets `change` alter its header and payload,
  // and writes both back where they were.
  void RewriteVictim(const std::function<void(format::BlockHeader*, std::string*)>& change) {
    std::fstream f(Segment(1), std::ios::in | std::ios::out | std::ios::binary);
    char header[format::kBlockHeaderSize];
    f.seekg(static_cast<std::streamoff>(victim_offset));
    f.read(header, sizeof header);
    auto h = format::DecodeBlockHeader(std::string_view(header, sizeof header));
    ASSERT_OK(h.status());
    ASSERT_TRUE(h->encrypted());
    std::string payload(h->stored_len, '\0');
    f.read(payload.data(), static_cast<std::streamsize>(payload.size()));
    change(&*h, &payload);
    format::EncodeBlockHeader(*h, header);
    f.seekp(static_cast<std::streamoff>(victim_offset));
    f.write(header, sizeof header);
    f.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    ASSERT_TRUE(f.good());
  }

  TestVolume tv;
  std::vector<uint64_t> ids;
  std::vector<std::string> data;
  uint64_t victim_offset = 0;
};

TEST_F(DamageTest, FlippedByteIsNamedBySegmentOffsetAndSnapshot) {
  {
    std::fstream f(Segment(1), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(victim_offset + 200));
    char c;
    f.read(&c, 1);
    c ^= 0x01;
    f.seekp(static_cast<std::streamoff>(victim_offset + 200));
    f.write(&c, 1);
  }
  engine::OpenOptions o;
  o.recover = RecoverMode{false, false};
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  for (bool with_key : {false, true}) {
    CheckReport r;
    ASSERT_OK(CheckVolume(v.get(), CheckOptions{with_key, with_key, {}}, &r));
    ASSERT_EQ(r.damage.size(), 1u) << with_key;
    EXPECT_EQ(r.damage[0].segment, 1u);
    EXPECT_EQ(r.damage[0].offset, victim_offset);
    ASSERT_EQ(r.damage[0].chunks.size(), 1u);
    ASSERT_EQ(r.damage[0].snapshots.size(), 1u);
    EXPECT_EQ(r.damage[0].snapshots[0], ids[0]);  // the first snapshot's chunks fill segment 1
    EXPECT_FALSE(r.clean());
  }
  // The damaged snapshot fails to restore with the place named; the others restore exactly.
  auto bad = GetString(v.get(), ids[0]);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("offset " + std::to_string(victim_offset)), std::string::npos)
      << bad.status().message();
  for (size_t i = 1; i < ids.size(); i++) {
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), ids[i]));
    EXPECT_TRUE(back == data[i]);
  }
}

// Only a data block's body_xxh3 is wrong (its header checksum made to match): the payload is the
// one sealed, so a restore, which its tag authenticates, gives the bytes back, while verify's
// restore of the stream names the field, and so does fsck's scan ([BLK-7]).
TEST_F(DamageTest, ABodyChecksumAloneWrongRestoresAndFailsVerify) {
  ASSERT_NO_FATAL_FAILURE(RewriteVictim([](format::BlockHeader* h, std::string*) { h->body_checksum ^= 1; }));
  engine::OpenOptions o;
  o.recover = RecoverMode{false, false};
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), ids[0]));
  EXPECT_TRUE(back == data[0]);
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{false, true, ids[0]}, &r));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("body_xxh3"), std::string::npos) << r.problems[0];
  CheckReport scan;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{}, &scan));
  ASSERT_EQ(scan.damage.size(), 1u);
  EXPECT_EQ(scan.damage[0].offset, victim_offset);
  EXPECT_NE(scan.damage[0].what.find("body_xxh3"), std::string::npos) << scan.damage[0].what;
}

// A payload altered along with its body_xxh3 passes the scanner; the tag names it, in the
// segment pass of a whole-volume verify (which leaves decompressing to the stream pass) and
// again in the stream pass of the snapshot that holds it.
TEST_F(DamageTest, APayloadAlteredWithItsChecksumIsNamedByItsTag) {
  ASSERT_NO_FATAL_FAILURE(RewriteVictim([](format::BlockHeader* h, std::string* payload) {
    (*payload)[payload->size() / 2] ^= 0x20;
    h->body_checksum = format::Checksum(*payload);
  }));
  engine::OpenOptions o;
  o.recover = RecoverMode{false, false};
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{true, true, std::nullopt}, &r));
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_EQ(r.damage[0].offset, victim_offset);
  EXPECT_NE(r.damage[0].what.find("authentication tag"), std::string::npos) << r.damage[0].what;
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find(format::SnapshotIdHex(ids[0])), std::string::npos) << r.problems[0];
  EXPECT_NE(r.problems[0].find("authentication tag"), std::string::npos) << r.problems[0];
}

TEST_F(DamageTest, TruncatedSealedSegmentIsReported) {
  std::filesystem::resize_file(Segment(1), victim_offset + 50);
  engine::OpenOptions o;
  o.recover = RecoverMode{false, false};
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{}, &r));
  ASSERT_FALSE(r.damage.empty());
  EXPECT_EQ(r.damage[0].segment, 1u);
  EXPECT_EQ(r.damage[0].offset, victim_offset);
  // Snapshot 0 lives in the lost part; snapshot 1 starts there before the segment rotated.
  const auto& hit = r.damage[0].snapshots;
  EXPECT_NE(std::find(hit.begin(), hit.end(), ids[0]), hit.end());
  EXPECT_NE(std::find(hit.begin(), hit.end(), ids[1]), hit.end());
  EXPECT_EQ(std::find(hit.begin(), hit.end(), ids[3]), hit.end());
  EXPECT_FALSE(r.clean());
}

}  // namespace
}  // namespace bv::engine
