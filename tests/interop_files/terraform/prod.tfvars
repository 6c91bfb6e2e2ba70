environment   = "prod"
desired_count = 8
vpc_id        = "vpc-0abc1234def567890"
