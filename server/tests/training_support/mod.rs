//! Helpers of the training tests: a fake Hugging Face Hub ([`fake_hub`]).
#![allow(dead_code)]

pub mod fake_hub;
