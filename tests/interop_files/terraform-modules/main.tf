# The terraform-aws-modules way: an ALB module and an ECS service module (ECS-native canary).
variable "env" {
  default = "prod"
}

locals {
  canary_percent = var.env == "prod" ? 5 : 50
}

module "alb" {
  source  = "terraform-aws-modules/alb/aws"
  version = "~> 9.0"

  name               = "web-${var.env}"
  load_balancer_type = "application"
  vpc_id             = "vpc-0abc1234def567890"
  subnets            = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  idle_timeout       = 30

  listeners = {
    http = {
      port     = 80
      protocol = "HTTP"
      weighted_forward = {
        target_groups = [
          { target_group_key = "blue", weight = 100 },
          { target_group_key = "green", weight = 0 }
        ]
      }
    }
  }

  target_groups = {
    blue = {
      name_prefix          = "blue-"
      protocol             = "HTTP"
      port                 = 80
      target_type          = "ip"
      deregistration_delay = 20
      create_attachment    = false
      health_check = {
        enabled             = true
        interval            = 10
        path                = "/health"
        healthy_threshold   = 2
        unhealthy_threshold = 3
        timeout             = 4
        matcher             = "200"
      }
    }
    green = {
      name_prefix          = "green-"
      protocol             = "HTTP"
      port                 = 80
      target_type          = "ip"
      deregistration_delay = 20
      create_attachment    = false
      health_check = {
        enabled             = true
        interval            = 10
        path                = "/health"
        healthy_threshold   = 2
        unhealthy_threshold = 3
        timeout             = 4
        matcher             = "200"
      }
    }
  }
}

module "ecs_service" {
  source  = "terraform-aws-modules/ecs/aws//modules/service"
  version = "~> 6.0"

  name          = "web-${var.env}"
  cluster_arn   = "arn:aws:ecs:eu-west-1:123456789012:cluster/main"
  cpu           = 512
  memory        = 1024
  desired_count = 6

  deployment_controller = {
    type = "ECS"
  }

  deployment_configuration = {
    strategy             = "CANARY"
    bake_time_in_minutes = 5
    canary_configuration = {
      canary_percent              = local.canary_percent
      canary_bake_time_in_minutes = 10
    }
  }

  deployment_circuit_breaker = {
    enable   = true
    rollback = true
  }

  load_balancer = {
    service = {
      target_group_arn = module.alb.target_groups["blue"].arn
      container_name   = "web"
      container_port   = 80
      advanced_configuration = {
        alternate_target_group_arn = module.alb.target_groups["green"].arn
        production_listener_rule   = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/web/1/2/3"
        role_arn                   = "arn:aws:iam::123456789012:role/ecs-lb"
      }
    }
  }
}

module "vpc_endpoints" {
  source = "git::https://github.com/example-org/terraform-internal-modules.git//endpoints?ref=v1.2.0"
  vpc_id = "vpc-0abc1234def567890"
}
