// Recipe, snapshot, deletion, seal and segment header payloads.
#include <gtest/gtest.h>

#include <functional>
#include <rapidcheck/gtest.h>

#include "format/recipe_format.h"
#include "format/segment_format.h"
#include "format/session_format.h"
#include "format/snapshot_format.h"
#include "format/block_format.h"
#include "format/coding.h"
#include <cstring>

namespace bv::format {
namespace {

SnapshotRecord Sample() {
  SnapshotRecord r;
  r.id = 0x1122334455667788ULL;
  r.time_us = 1764558000000000;
  r.source = "pg/orders";
  r.label = "nightly";
  StreamInfo s;
  s.name = "";
  s.length = 1000;
  s.hash.fill(3);
  s.chunk_count = 2;
  s.recipe_pieces = 1;
  r.streams.push_back(s);
  s.name = "globals";
  s.length = 0;
  s.chunk_count = 0;
  s.recipe_pieces = 0;
  r.streams.push_back(s);
  r.stored_bytes = 600;
  r.new_bytes = 500;
  return r;
}

TEST(SnapshotFormat, RoundTrip) {
  auto r = Sample();
  auto d = DecodeSnapshot(EncodeSnapshot(r));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, r);
}

TEST(SnapshotFormat, EveryTruncationIsRejected) {
  const std::string enc = EncodeSnapshot(Sample());
  for (size_t n = 0; n < enc.size(); n++) ASSERT_FALSE(DecodeSnapshot(enc.substr(0, n)).ok()) << n;
  EXPECT_FALSE(DecodeSnapshot(enc + "x").ok());
}

TEST(SnapshotFormat, UnknownVersionIsRejected) {
  std::string enc = EncodeSnapshot(Sample());
  enc[0] = 2;
  auto d = DecodeSnapshot(enc);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("version"), std::string::npos);
}

TEST(SnapshotFormat, StreamEntriesMustAgree) {  // [SNAP-2]
  auto bad = [](const std::function<void(SnapshotRecord*)>& change) {
    SnapshotRecord r = Sample();
    change(&r);
    // Encode without the writer's assertions: the fields are what a damaged disk could hold.
    std::string enc;
    PutFixed8(&enc, kSnapshotRecordVersion);
    PutFixed64(&enc, r.id);
    PutFixed64(&enc, static_cast<uint64_t>(r.time_us));
    PutString16(&enc, r.source);
    PutString16(&enc, r.label);
    PutFixed16(&enc, static_cast<uint16_t>(r.streams.size()));
    for (const StreamInfo& st : r.streams) PutStreamInfo(&enc, st);
    PutFixed64(&enc, r.stored_bytes);
    PutFixed64(&enc, r.new_bytes);
    return !DecodeSnapshot(enc).ok();
  };
  EXPECT_FALSE(bad([](SnapshotRecord*) {}));
  EXPECT_TRUE(bad([](SnapshotRecord* r) { r->streams[0].chunk_count = r->streams[0].length + 1; }));
  EXPECT_TRUE(bad([](SnapshotRecord* r) { r->streams[0].recipe_pieces = r->streams[0].chunk_count + 1; }));
  EXPECT_TRUE(bad([](SnapshotRecord* r) { r->streams.back().chunk_count = 1; }));  // length 0 but a chunk
  EXPECT_TRUE(bad([](SnapshotRecord* r) { r->streams.clear(); }));
  EXPECT_TRUE(bad([](SnapshotRecord* r) { r->id = 0; }));
}

TEST(SessionFormat, RoundTripTruncationAndVersion) {  // [SESS-1]
  SessionRecord s;
  s.id = 77;
  s.time_us = -5;
  s.source = "db/main";
  s.label = "nightly";
  s.done = Sample().streams;
  s.in_stream = true;
  s.current.name = "open";
  s.current.length = 4096;
  s.current.chunk_count = 2;
  s.current.recipe_pieces = 1;
  s.stored_bytes = 10;
  s.new_bytes = 9;
  s.updated_us = 123456;
  const std::string enc = EncodeSession(s);
  auto d = DecodeSession(enc);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, s);
  for (size_t n = 0; n < enc.size(); n++) ASSERT_FALSE(DecodeSession(enc.substr(0, n)).ok()) << n;
  EXPECT_FALSE(DecodeSession(enc + "x").ok());
  std::string other = enc;
  other[0] = 2;
  EXPECT_FALSE(DecodeSession(other).ok());
}

TEST(SnapshotFormat, SourceNamesAreChecked) {  // [SNAP-1]
  EXPECT_TRUE(ValidateSourceName("pg/orders").ok());
  EXPECT_TRUE(ValidateSourceName("mongo/app-1.shard_2").ok());
  EXPECT_TRUE(ValidateSourceName("pg/\xc3\xa9t\xc3\xa9").ok());
  for (const char* bad : {"", "/abs", "a/../b", "..", "a//b", "a/./b", "a/", "tab\there", "nl\n", "x@y",
                          "bad\xff", "\xc3", "\xe0\x80\x80", "\xed\xa0\x80"}) {
    EXPECT_FALSE(ValidateSourceName(bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateSourceName(std::string(256, 'a')).ok());
}

TEST(DeletionFormat, RoundTripAndTruncation) {
  DeletionRecord r{42, 1764558000000000, "retention: keep-daily 7"};
  const std::string enc = EncodeDeletion(r);
  auto d = DecodeDeletion(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, r);
  for (size_t n = 0; n < enc.size(); n++) ASSERT_FALSE(DecodeDeletion(enc.substr(0, n)).ok());
}

TEST(RecipeFormat, RoundTripAndLimits) {  // [RCP-1]
  RecipePiece r;
  r.stream_index = 3;
  r.piece_index = 7;
  r.stream_offset = 1 << 30;
  for (int i = 0; i < 5; i++) {
    RecipeEntry e;
    e.chunk_id.fill(static_cast<uint8_t>(i + 1));
    e.length = 1000 + i;
    r.entries.push_back(e);
  }
  const std::string enc = EncodeRecipe(r);
  auto d = DecodeRecipe(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, r);
  for (size_t n = 0; n < enc.size(); n++) ASSERT_FALSE(DecodeRecipe(enc.substr(0, n)).ok()) << n;
  std::string zero_len = enc;
  std::memset(zero_len.data() + kRecipeHeaderSize + kIdSize, 0, 4);
  auto z = DecodeRecipe(zero_len);
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.status().message().find("offset 52"), std::string::npos) << z.status().message();
}

RC_GTEST_PROP(RecipeFormatProp, RoundTrips, (uint16_t stream, uint32_t piece, uint32_t offset, std::vector<uint32_t> lengths)) {
  RC_PRE(!lengths.empty() && lengths.size() <= kRecipeEntriesMax);
  RecipePiece r;
  r.stream_index = stream;
  r.piece_index = piece;
  r.stream_offset = offset;
  for (uint32_t l : lengths) {
    RecipeEntry e;
    e.chunk_id.fill(static_cast<uint8_t>(l));
    e.length = l % kBlockPayloadMax + 1;
    r.entries.push_back(e);
  }
  auto d = DecodeRecipe(EncodeRecipe(r));
  RC_ASSERT(d.ok());
  RC_ASSERT(*d == r);
}

TEST(SegmentFormat, HeaderRoundTripAndChecks) {  // [SEG-1]
  SegmentHeader h;
  h.segment_number = 42;
  h.params.uuid.fill(9);
  h.params.created_us = 123;
  const std::string enc = EncodeSegmentHeader(h);
  ASSERT_EQ(enc.size(), kSegmentHeaderSize);
  auto d = DecodeSegmentHeader(enc);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->segment_number, 42u);
  EXPECT_EQ(d->params.uuid, h.params.uuid);
  EXPECT_EQ(d->params.chunk_avg, h.params.chunk_avg);
  // A volume file is not a segment header and vice versa.
  EXPECT_FALSE(DecodeVolumeFile(enc).ok());
  // Any flipped bit is caught.
  for (size_t bit = 0; bit < 8 * 128; bit += 7) {
    std::string bad = enc;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    ASSERT_FALSE(DecodeSegmentHeader(bad).ok()) << bit;
  }
}

TEST(SegmentFormat, UnknownMajorVersionIsRefused) {  // [SEG-3]
  SegmentHeader h;
  h.segment_number = 1;
  std::string enc = EncodeSegmentHeader(h);
  enc[8] = 2;
  EncodeFixed64(enc.data() + kSegmentChecksumOffset, Checksum(std::string_view(enc).substr(0, kSegmentChecksumOffset)));
  auto d = DecodeSegmentHeader(enc);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("knows major version 1"), std::string::npos) << d.status().message();
}

TEST(SegmentFormat, NonZeroReservedBytesAreRefused) {  // [SEG-4]
  SegmentHeader h;
  h.segment_number = 1;
  for (size_t at : {size_t{104}, size_t{2000}, size_t{4087}}) {
    std::string enc = EncodeSegmentHeader(h);
    enc[at] = 1;  // reserved, with the header checksum made to hold
    EncodeFixed64(enc.data() + kSegmentChecksumOffset, Checksum(std::string_view(enc).substr(0, kSegmentChecksumOffset)));
    auto d = DecodeSegmentHeader(enc);
    ASSERT_FALSE(d.ok()) << at;
    EXPECT_NE(d.status().message().find("reserved"), std::string::npos) << d.status().message();
  }
}

TEST(SegmentFormat, FileNames) {
  EXPECT_EQ(SegmentFileName(42), "seg-000000000042.bvs");
  uint64_t n = 0;
  EXPECT_TRUE(ParseSegmentFileName("seg-000000000042.bvs", &n));
  EXPECT_EQ(n, 42u);
  EXPECT_FALSE(ParseSegmentFileName("seg-000000000000.bvs", &n));
  EXPECT_FALSE(ParseSegmentFileName("seg-00000000004x.bvs", &n));
  EXPECT_FALSE(ParseSegmentFileName("seg-000000000042.bvs.tmp", &n));
}

TEST(SealFormat, RoundTrip) {
  SealRecord s{7, 8192, 12};
  auto d = DecodeSeal(EncodeSeal(s));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->segment_number, 7u);
  EXPECT_EQ(d->seal_offset, 8192u);
  EXPECT_EQ(d->block_count, 12u);
  EXPECT_FALSE(DecodeSeal(EncodeSeal(s).substr(0, 23)).ok());
}

}  // namespace
}  // namespace bv::format
