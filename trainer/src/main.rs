//! `coach-trainer`: a thin wrapper over [`coach_trainer::cli::run`].

fn main() {
    std::process::exit(coach_trainer::cli::run(std::env::args().skip(1)));
}
