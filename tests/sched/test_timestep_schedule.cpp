// The paper's exponential timestep schedules (early / late), by their defining properties.
#include <catch2/catch.hpp>

#include "diffscope/sched/timestep_schedule.h"
#include "diffscope/util/error.h"

using namespace diffscope;

TEST_CASE("exponential schedules pack steps early or late", "[sched]") {
  auto e = exponential_timesteps("early", 3.0, 10, 1000);
  auto l = exponential_timesteps("late", 3.0, 10, 1000);
  REQUIRE(e.size() == 10);
  CHECK(e.front() == 999);
  CHECK(e.back() == 0);
  CHECK(l.front() == 999);
  for (size_t i = 1; i < e.size(); ++i) {
    CHECK(e[i] < e[i - 1]);
    CHECK(l[i] < l[i - 1]);
  }
  CHECK(e[0] - e[1] < e[8] - e[9]);  // early: small steps at high noise
  CHECK(l[0] - l[1] > l[8] - l[9]);  // late: small steps at low noise
  // lambda -> small: nearly even
  auto even = exponential_timesteps("early", 1e-3, 4, 1000);
  CHECK(even == std::vector<int64_t>{999, 666, 333, 0});
  CHECK_THROWS_AS(exponential_timesteps("middle", 1.0, 10, 1000), Error);
  CHECK_THROWS_WITH(timesteps_from_spec("early", 10, 1000), Catch::Contains("expected early:LAMBDA"));
  // 1000 steps over 1000 timesteps stays unique and in range
  auto all = exponential_timesteps("late", 5.0, 1000, 1000);
  CHECK(all.front() == 999);
  CHECK(all.back() == 0);
}

