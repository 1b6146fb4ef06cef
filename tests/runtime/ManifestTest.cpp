//===- tests/runtime/ManifestTest.cpp - pipeline.json round trips ---------===//
//
// A stage's `recompute` survives writing and reading; it is written only
// where it is true, and a file without it (written before it existed)
// reads as recomputing nothing.
//
//===----------------------------------------------------------------------===//
#include "runtime/Manifest.h"

#include <gtest/gtest.h>

using namespace ppc::rt;

namespace {

Manifest twoStages() {
  Manifest m;
  m.inputs.push_back({});
  m.inputs[0].name = "x";
  m.outputs.push_back({"v2", 1});
  for (int k = 0; k < 2; ++k) {
    StageSpec s;
    s.index = k;
    s.file = "stage" + std::to_string(k) + ".pt";
    s.inputs.push_back(k == 0 ? StageInput{"x", -1} : StageInput{"v1", 0});
    s.outputs.push_back("v" + std::to_string(k + 1));
    m.stages.push_back(s);
  }
  ValueEntry v1;
  v1.producer = 0;
  v1.consumers = {1};
  m.values.emplace_back("v1", v1);
  ValueEntry v2;
  v2.producer = 1;
  m.values.emplace_back("v2", v2);
  return m;
}

TEST(Manifest, RecomputeRoundTrips) {
  Manifest m = twoStages();
  m.stages[1].recompute = true;
  std::string text = writeManifest(m);
  Manifest back = parseManifest(text, "test");
  EXPECT_FALSE(back.stages[0].recompute);
  EXPECT_TRUE(back.stages[1].recompute);
  EXPECT_EQ(writeManifest(back), text);
}

TEST(Manifest, RecomputeIsWrittenOnlyWhereTrue) {
  Manifest m = twoStages();
  EXPECT_EQ(writeManifest(m).find("recompute"), std::string::npos);
  m.stages[0].recompute = true;
  std::string text = writeManifest(m);
  size_t first = text.find("\"recompute\"");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(text.find("\"recompute\"", first + 1), std::string::npos);
}

TEST(Manifest, AFileWithoutRecomputeRecomputesNothing) {
  Manifest m = twoStages();
  for (const StageSpec &s : parseManifest(writeManifest(m), "old").stages)
    EXPECT_FALSE(s.recompute);
}

} // namespace
