variable "environment" {
  description = "Deployment environment"
  type        = string
  default     = "staging"
}

variable "desired_count" {
  type    = number
  default = 2
}

variable "canary_percentage" {
  type    = number
  default = 10
}

variable "vpc_id" {
  type = string
}

variable "alarm_threshold_percent" {
  type    = number
  default = 5
}
