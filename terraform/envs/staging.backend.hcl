# terraform init -reconfigure -backend-config=envs/staging.backend.hcl
bucket       = "realeyez-terraform-state"
key          = "realeyez/staging/terraform.tfstate"
region       = "us-east-1"
encrypt      = true
use_lockfile = true
