package route53

import "encoding/xml"

// This file holds the XML shapes of Route 53's REST-XML protocol (API
// version 2013-04-01), named as in the API reference. Requests decode
// whatever namespace they carry; responses carry Namespace.

// Namespace is the XML namespace of every request and response.
const Namespace = "https://route53.amazonaws.com/doc/2013-04-01/"

// APIVersion is the path prefix of every operation.
const APIVersion = "2013-04-01"

type xmlResourceRecord struct {
	Value string `xml:"Value"`
}

// xmlResourceRecords is a pointer in xmlRecordSet because encoding/xml
// writes an empty parent for an empty "a>b" list, and alias records have
// no ResourceRecords element at all.
type xmlResourceRecords struct {
	Items []xmlResourceRecord `xml:"ResourceRecord"`
}

type xmlAliasTarget struct {
	HostedZoneID         string `xml:"HostedZoneId"`
	DNSName              string `xml:"DNSName"`
	EvaluateTargetHealth bool   `xml:"EvaluateTargetHealth"`
}

type xmlGeoLocation struct {
	ContinentCode   string `xml:"ContinentCode,omitempty"`
	CountryCode     string `xml:"CountryCode,omitempty"`
	SubdivisionCode string `xml:"SubdivisionCode,omitempty"`
}

type xmlCoordinates struct {
	Latitude  string `xml:"Latitude"`
	Longitude string `xml:"Longitude"`
}

type xmlGeoProximity struct {
	AWSRegion      string          `xml:"AWSRegion,omitempty"`
	LocalZoneGroup string          `xml:"LocalZoneGroup,omitempty"`
	Coordinates    *xmlCoordinates `xml:"Coordinates,omitempty"`
	Bias           *int            `xml:"Bias,omitempty"`
}

type xmlCIDRRouting struct {
	CollectionID string `xml:"CollectionId"`
	LocationName string `xml:"LocationName"`
}

type xmlRecordSet struct {
	Name                    string              `xml:"Name"`
	Type                    string              `xml:"Type"`
	SetIdentifier           string              `xml:"SetIdentifier,omitempty"`
	Weight                  *int64              `xml:"Weight,omitempty"`
	Region                  string              `xml:"Region,omitempty"`
	GeoLocation             *xmlGeoLocation     `xml:"GeoLocation,omitempty"`
	Failover                string              `xml:"Failover,omitempty"`
	MultiValueAnswer        *bool               `xml:"MultiValueAnswer,omitempty"`
	TTL                     *int64              `xml:"TTL,omitempty"`
	ResourceRecords         *xmlResourceRecords `xml:"ResourceRecords,omitempty"`
	AliasTarget             *xmlAliasTarget     `xml:"AliasTarget,omitempty"`
	HealthCheckID           string              `xml:"HealthCheckId,omitempty"`
	TrafficPolicyInstanceID string              `xml:"TrafficPolicyInstanceId,omitempty"`
	CidrRoutingConfig       *xmlCIDRRouting     `xml:"CidrRoutingConfig,omitempty"`
	GeoProximityLocation    *xmlGeoProximity    `xml:"GeoProximityLocation,omitempty"`
}

type xmlChange struct {
	Action            string       `xml:"Action"`
	ResourceRecordSet xmlRecordSet `xml:"ResourceRecordSet"`
}

type changeRecordSetsRequest struct {
	ChangeBatch struct {
		Comment string      `xml:"Comment"`
		Changes []xmlChange `xml:"Changes>Change"`
	} `xml:"ChangeBatch"`
}

type xmlChangeInfo struct {
	ID          string `xml:"Id"`
	Status      string `xml:"Status"`
	SubmittedAt string `xml:"SubmittedAt"`
	Comment     string `xml:"Comment,omitempty"`
}

type changeRecordSetsResponse struct {
	XMLName    xml.Name      `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ChangeResourceRecordSetsResponse"`
	ChangeInfo xmlChangeInfo `xml:"ChangeInfo"`
}

type getChangeResponse struct {
	XMLName    xml.Name      `xml:"https://route53.amazonaws.com/doc/2013-04-01/ GetChangeResponse"`
	ChangeInfo xmlChangeInfo `xml:"ChangeInfo"`
}

type listRecordSetsResponse struct {
	XMLName              xml.Name       `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListResourceRecordSetsResponse"`
	ResourceRecordSets   []xmlRecordSet `xml:"ResourceRecordSets>ResourceRecordSet"`
	IsTruncated          bool           `xml:"IsTruncated"`
	NextRecordName       string         `xml:"NextRecordName,omitempty"`
	NextRecordType       string         `xml:"NextRecordType,omitempty"`
	NextRecordIdentifier string         `xml:"NextRecordIdentifier,omitempty"`
	MaxItems             string         `xml:"MaxItems"`
}

type xmlHostedZoneConfig struct {
	Comment     string `xml:"Comment,omitempty"`
	PrivateZone bool   `xml:"PrivateZone"`
}

type xmlHostedZone struct {
	ID                     string              `xml:"Id"`
	Name                   string              `xml:"Name"`
	CallerReference        string              `xml:"CallerReference"`
	Config                 xmlHostedZoneConfig `xml:"Config"`
	ResourceRecordSetCount int                 `xml:"ResourceRecordSetCount"`
}

type xmlDelegationSet struct {
	NameServers []string `xml:"NameServers>NameServer"`
}

type createHostedZoneRequest struct {
	Name             string `xml:"Name"`
	CallerReference  string `xml:"CallerReference"`
	HostedZoneConfig *struct {
		Comment     string `xml:"Comment"`
		PrivateZone bool   `xml:"PrivateZone"`
	} `xml:"HostedZoneConfig"`
	VPC *struct {
		VPCRegion string `xml:"VPCRegion"`
		VPCID     string `xml:"VPCId"`
	} `xml:"VPC"`
	DelegationSetID string `xml:"DelegationSetId"`
}

type createHostedZoneResponse struct {
	XMLName       xml.Name         `xml:"https://route53.amazonaws.com/doc/2013-04-01/ CreateHostedZoneResponse"`
	HostedZone    xmlHostedZone    `xml:"HostedZone"`
	ChangeInfo    xmlChangeInfo    `xml:"ChangeInfo"`
	DelegationSet xmlDelegationSet `xml:"DelegationSet"`
}

type getHostedZoneResponse struct {
	XMLName       xml.Name         `xml:"https://route53.amazonaws.com/doc/2013-04-01/ GetHostedZoneResponse"`
	HostedZone    xmlHostedZone    `xml:"HostedZone"`
	DelegationSet xmlDelegationSet `xml:"DelegationSet"`
}

type deleteHostedZoneResponse struct {
	XMLName    xml.Name      `xml:"https://route53.amazonaws.com/doc/2013-04-01/ DeleteHostedZoneResponse"`
	ChangeInfo xmlChangeInfo `xml:"ChangeInfo"`
}

type listHostedZonesResponse struct {
	XMLName     xml.Name        `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListHostedZonesResponse"`
	HostedZones []xmlHostedZone `xml:"HostedZones>HostedZone"`
	Marker      string          `xml:"Marker"`
	IsTruncated bool            `xml:"IsTruncated"`
	NextMarker  string          `xml:"NextMarker,omitempty"`
	MaxItems    string          `xml:"MaxItems"`
}

type listHostedZonesByNameResponse struct {
	XMLName          xml.Name        `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListHostedZonesByNameResponse"`
	HostedZones      []xmlHostedZone `xml:"HostedZones>HostedZone"`
	DNSName          string          `xml:"DNSName,omitempty"`
	HostedZoneID     string          `xml:"HostedZoneId,omitempty"`
	IsTruncated      bool            `xml:"IsTruncated"`
	NextDNSName      string          `xml:"NextDNSName,omitempty"`
	NextHostedZoneID string          `xml:"NextHostedZoneId,omitempty"`
	MaxItems         string          `xml:"MaxItems"`
}

// xmlHealthCheckConfig is HealthCheckConfig; pointers tell an absent
// element from a zero one.
type xmlHealthCheckConfig struct {
	IPAddress                    string       `xml:"IPAddress,omitempty"`
	Port                         *int         `xml:"Port,omitempty"`
	Type                         string       `xml:"Type"`
	ResourcePath                 string       `xml:"ResourcePath,omitempty"`
	FullyQualifiedDomainName     string       `xml:"FullyQualifiedDomainName,omitempty"`
	SearchString                 string       `xml:"SearchString,omitempty"`
	RequestInterval              *int         `xml:"RequestInterval,omitempty"`
	FailureThreshold             *int         `xml:"FailureThreshold,omitempty"`
	MeasureLatency               *bool        `xml:"MeasureLatency,omitempty"`
	Inverted                     *bool        `xml:"Inverted,omitempty"`
	Disabled                     *bool        `xml:"Disabled,omitempty"`
	HealthThreshold              *int         `xml:"HealthThreshold,omitempty"`
	ChildHealthChecks            *xmlChildren `xml:"ChildHealthChecks,omitempty"`
	EnableSNI                    *bool        `xml:"EnableSNI,omitempty"`
	Regions                      *xmlRegions  `xml:"Regions,omitempty"`
	InsufficientDataHealthStatus string       `xml:"InsufficientDataHealthStatus,omitempty"`
	RoutingControlArn            string       `xml:"RoutingControlArn,omitempty"`
	AlarmIdentifier              *struct {
		Region string `xml:"Region"`
		Name   string `xml:"Name"`
	} `xml:"AlarmIdentifier,omitempty"`
}

type xmlChildren struct {
	Items []string `xml:"ChildHealthCheck"`
}

type xmlRegions struct {
	Items []string `xml:"Region"`
}

type xmlHealthCheck struct {
	ID                 string               `xml:"Id"`
	CallerReference    string               `xml:"CallerReference"`
	HealthCheckConfig  xmlHealthCheckConfig `xml:"HealthCheckConfig"`
	HealthCheckVersion int64                `xml:"HealthCheckVersion"`
}

type createHealthCheckRequest struct {
	CallerReference   string               `xml:"CallerReference"`
	HealthCheckConfig xmlHealthCheckConfig `xml:"HealthCheckConfig"`
}

type createHealthCheckResponse struct {
	XMLName     xml.Name       `xml:"https://route53.amazonaws.com/doc/2013-04-01/ CreateHealthCheckResponse"`
	HealthCheck xmlHealthCheck `xml:"HealthCheck"`
}

type getHealthCheckResponse struct {
	XMLName     xml.Name       `xml:"https://route53.amazonaws.com/doc/2013-04-01/ GetHealthCheckResponse"`
	HealthCheck xmlHealthCheck `xml:"HealthCheck"`
}

type updateHealthCheckRequest struct {
	HealthCheckVersion           *int64   `xml:"HealthCheckVersion"`
	IPAddress                    *string  `xml:"IPAddress"`
	Port                         *int     `xml:"Port"`
	ResourcePath                 *string  `xml:"ResourcePath"`
	FullyQualifiedDomainName     *string  `xml:"FullyQualifiedDomainName"`
	SearchString                 *string  `xml:"SearchString"`
	FailureThreshold             *int     `xml:"FailureThreshold"`
	Inverted                     *bool    `xml:"Inverted"`
	Disabled                     *bool    `xml:"Disabled"`
	HealthThreshold              *int     `xml:"HealthThreshold"`
	ChildHealthChecks            *xmlList `xml:"ChildHealthChecks"`
	EnableSNI                    *bool    `xml:"EnableSNI"`
	Regions                      *xmlList `xml:"Regions"`
	InsufficientDataHealthStatus *string  `xml:"InsufficientDataHealthStatus"`
	ResetElements                []string `xml:"ResetElements>ResettableElementName"`
}

// xmlList is a list whose member element name does not matter.
type xmlList struct {
	Items []string `xml:",any"`
}

type updateHealthCheckResponse struct {
	XMLName     xml.Name       `xml:"https://route53.amazonaws.com/doc/2013-04-01/ UpdateHealthCheckResponse"`
	HealthCheck xmlHealthCheck `xml:"HealthCheck"`
}

type deleteHealthCheckResponse struct {
	XMLName xml.Name `xml:"https://route53.amazonaws.com/doc/2013-04-01/ DeleteHealthCheckResponse"`
}

type listHealthChecksResponse struct {
	XMLName      xml.Name         `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListHealthChecksResponse"`
	HealthChecks []xmlHealthCheck `xml:"HealthChecks>HealthCheck"`
	Marker       string           `xml:"Marker"`
	IsTruncated  bool             `xml:"IsTruncated"`
	NextMarker   string           `xml:"NextMarker,omitempty"`
	MaxItems     string           `xml:"MaxItems"`
}

type xmlObservation struct {
	Region       string `xml:"Region"`
	IPAddress    string `xml:"IPAddress"`
	StatusReport struct {
		Status      string `xml:"Status"`
		CheckedTime string `xml:"CheckedTime"`
	} `xml:"StatusReport"`
}

type getHealthCheckStatusResponse struct {
	XMLName                 xml.Name         `xml:"https://route53.amazonaws.com/doc/2013-04-01/ GetHealthCheckStatusResponse"`
	HealthCheckObservations []xmlObservation `xml:"HealthCheckObservations>HealthCheckObservation"`
}

type testDNSAnswerResponse struct {
	XMLName      xml.Name `xml:"https://route53.amazonaws.com/doc/2013-04-01/ TestDNSAnswerResponse"`
	Nameserver   string   `xml:"Nameserver"`
	RecordName   string   `xml:"RecordName"`
	RecordType   string   `xml:"RecordType"`
	RecordData   []string `xml:"RecordData>RecordDataEntry"`
	ResponseCode string   `xml:"ResponseCode"`
	Protocol     string   `xml:"Protocol"`
}

type xmlErrorResponse struct {
	XMLName xml.Name `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ErrorResponse"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
		// Messages lists an InvalidChangeBatch's problems, one each.
		Messages []string `xml:"Messages>Message,omitempty"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

type getHealthCheckLastFailureReasonResponse struct {
	XMLName                 xml.Name         `xml:"https://route53.amazonaws.com/doc/2013-04-01/ GetHealthCheckLastFailureReasonResponse"`
	HealthCheckObservations []xmlObservation `xml:"HealthCheckObservations>HealthCheckObservation"`
}

type getHealthCheckCountResponse struct {
	XMLName          xml.Name `xml:"https://route53.amazonaws.com/doc/2013-04-01/ GetHealthCheckCountResponse"`
	HealthCheckCount int      `xml:"HealthCheckCount"`
}

type getHostedZoneCountResponse struct {
	XMLName         xml.Name `xml:"https://route53.amazonaws.com/doc/2013-04-01/ GetHostedZoneCountResponse"`
	HostedZoneCount int      `xml:"HostedZoneCount"`
}

type xmlResourceTagSet struct {
	ResourceType string   `xml:"ResourceType"`
	ResourceID   string   `xml:"ResourceId"`
	Tags         []xmlTag `xml:"Tags>Tag"`
}

type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type listTagsForResourceResponse struct {
	XMLName        xml.Name          `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListTagsForResourceResponse"`
	ResourceTagSet xmlResourceTagSet `xml:"ResourceTagSet"`
}

type listTagsForResourcesRequest struct {
	ResourceIDs []string `xml:"ResourceIds>ResourceId"`
}

type listTagsForResourcesResponse struct {
	XMLName         xml.Name            `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListTagsForResourcesResponse"`
	ResourceTagSets []xmlResourceTagSet `xml:"ResourceTagSets>ResourceTagSet"`
}

type changeTagsForResourceRequest struct {
	AddTags       []xmlTag `xml:"AddTags>Tag"`
	RemoveTagKeys []string `xml:"RemoveTagKeys>Key"`
}

type changeTagsForResourceResponse struct {
	XMLName xml.Name `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ChangeTagsForResourceResponse"`
}
