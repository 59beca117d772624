// The lab's output: the table on the terminal and the report folder
//
//   <dir>/summary.json          every scenario: prediction, measurement, verdict
//   <dir>/<scenario>.csv        the per-second series (t, ok, failed, cps, client_tw, server_tw)
//   <dir>/<scenario>.json       the same series, and the scenario's settings
//   <dir>/lab.png               one panel per scenario: TIME_WAIT on both sides,
//                               CPS and failures over time (gnuplot)
//   <dir>/lab.gp                the gnuplot script that drew it (absolute paths)
//   <dir>/lab.gp.log            what gnuplot said
//
// gnuplot is started without a shell (posix_spawnp, an argument vector), so
// the folder's name may hold anything.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "apps/twstack/lab/lab_predict.hh"
#include "apps/twstack/lab/lab_run.hh"
#include "apps/twstack/lab/lab_scenario.hh"

namespace twstack::app {

struct LabResult {
  LabScenario scenario;
  LabPrediction prediction;
  LabRun run;
  LabVerdict verdict;
};

// The table: scenario, prediction, measurement, verdict; then each
// scenario's checks that differ, and what was compressed.
void print_lab_table(std::ostream& out, const std::vector<LabResult>& results, bool sim);
// Writes the folder (created if need be); returns a note about the plots
// ("" when drawn, else why not: gnuplot missing, or its exit status).
std::string write_lab_report(const std::string& dir, const std::vector<LabResult>& results, bool sim);
// summary.json's content (also what `lab --json` prints).
void print_lab_json(std::ostream& out, const std::vector<LabResult>& results, bool sim);

}  // namespace twstack::app
