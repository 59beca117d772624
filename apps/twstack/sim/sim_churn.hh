// `twstack sim churn`: connection churn between two engines over the
// in-process link, per virtual second. The printing and option handling are
// exposed for the tests.
#pragma once

#include <ostream>

#include "apps/common/command.hh"
#include "apps/workloads/churn.hh"

namespace twstack::app {

Command sim_churn_command();

// The settings the options ask for; UsageError on a bad value, a bad knob
// (the configuration module's message) or a knob file that does not load.
ChurnSettings churn_settings_from(const Options& o);

// One JSON object on one line (see the command's --help for the fields).
void print_churn_json(std::ostream& out, const ChurnSettings& s, const ChurnResult& r);
// The per-second table, the first failure and the headline counters.
void print_churn_text(std::ostream& out, const ChurnSettings& s, const ChurnResult& r);

}  // namespace twstack::app
